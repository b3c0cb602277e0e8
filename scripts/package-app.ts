// `npm run package:app [-- --linux|--win|--mac]`: packages the already-built app (run by the
// script after `node scripts/build.mjs all --force`) with electron.config.ts. Without a platform
// flag, electron-builder packages for the current one. Never publishes.

import { Platform, build } from 'electron-builder';
import config from '../electron.config.ts';

const flags: Record<string, Platform> = { '--linux': Platform.LINUX, '--win': Platform.WINDOWS, '--mac': Platform.MAC };
const platforms = process.argv.slice(2).flatMap((a) => (flags[a] ? [flags[a]] : []));
const targets = platforms.length ? new Map(platforms.map((p) => [p, new Map()])) : undefined;

const files = await build({ config, publish: 'never', ...(targets ? { targets } : {}) });
console.log(`packaged:\n${files.map((f) => `  ${f}`).join('\n')}`);
