// Where Recall keeps its settings (and, by default, its data): an explicit home (createApi's
// option, the CLI's --home) wins, then RECALL_HOME, then the platform's app-data folder.

import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export function platformDataHome(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = homedir();
  switch (platform) {
    case 'win32':
      return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'Recall');
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Recall');
    default: {
      const xdg = env.XDG_DATA_HOME;
      return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), 'recall');
    }
  }
}

export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.RECALL_HOME) return resolve(env.RECALL_HOME);
  return platformDataHome(process.platform, env);
}
