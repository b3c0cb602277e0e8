// Where Recall's own files are (native-models/, dist/renderer, package.json), found by walking up
// from this module to the folder that holds package.json and native-models/. A fixed relative
// path would hold only in the source tree: the Electron build bundles the engine into
// dist-electron/app/, two levels below the root instead of three.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The folder holding Recall's package.json and native-models/ (the repository, or the packaged app). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  if (cached && from === dirname(fileURLToPath(import.meta.url))) return cached;
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native-models'))) {
      if (from === dirname(fileURLToPath(import.meta.url))) cached = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`recall: no package root (package.json beside native-models/) above ${from}`);
  }
}

/** A path inside the package root. */
export const fromPackageRoot = (...parts: string[]): string => join(packageRoot(), ...parts);
