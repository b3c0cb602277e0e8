// Where the Electron binary is, or null: `require('electron')` returns its path, and throws when
// the package was installed without the binary (ELECTRON_SKIP_BINARY_DOWNLOAD=1).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export function electronBinary(): string | null {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}
