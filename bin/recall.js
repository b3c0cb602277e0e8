#!/usr/bin/env node
// The `recall` command. The engine is TypeScript run through tsx in a source checkout.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
