// Settings kept in memory and in <home>/settings.json. Writes are atomic (temp file + rename)
// and serialised, so two quick settings.set calls never interleave on disk. An unreadable file
// is set aside (renamed *.bad-<time>) rather than lost, and the defaults are used.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, settingsSchema, type Settings, type SettingsPatch } from '../../contract/index.ts';

const FILE_NAME = 'settings.json';
const FORMAT_VERSION = 1;

export function defaultSettings(home: string): Settings {
  return { dataDir: home, executionProvider: 'cpu', threads: 0 };
}

export class SettingsStore {
  private current: Settings;
  private writing: Promise<unknown> = Promise.resolve();
  readonly warnings: string[] = [];

  private constructor(readonly home: string, initial: Settings) {
    this.current = initial;
  }

  get file(): string { return join(this.home, FILE_NAME); }

  static async open(home: string): Promise<SettingsStore> {
    const store = new SettingsStore(home, defaultSettings(home));
    await store.load();
    return store;
  }

  get(): Settings {
    return { ...this.current };
  }

  /** Validates the merged settings, creates the data folder, saves, and returns the new settings. */
  async set(patch: SettingsPatch): Promise<Settings> {
    const merged = { ...this.current, ...stripUndefined(patch) };
    const parsed = settingsSchema.parse(merged);
    try {
      await mkdir(parsed.dataDir, { recursive: true });
    } catch (err) {
      throw new ApiError('E_BAD_ARGUMENT', `dataDir: cannot create folder '${parsed.dataDir}': ${(err as Error).message}`, { field: 'dataDir' });
    }
    const write = this.writing.then(() => this.save(parsed));
    this.writing = write.catch(() => undefined);
    await write;
    this.current = parsed;
    return this.get();
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.writing;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ApiError('E_IO', `cannot read ${this.file}: ${(err as Error).message}`);
    }
    try {
      const json = JSON.parse(text) as { version?: unknown; settings?: unknown };
      if (json.version !== FORMAT_VERSION) throw new Error(`unsupported format version ${String(json.version)}`);
      this.current = settingsSchema.parse({ ...defaultSettings(this.home), ...(json.settings as object) });
    } catch (err) {
      const aside = `${this.file}.bad-${Date.now()}`;
      await rename(this.file, aside).catch(() => undefined);
      this.warnings.push(`${this.file} was unreadable (${(err as Error).message.split('\n')[0]}); moved to ${aside}, using defaults`);
    }
  }

  private async save(settings: Settings): Promise<void> {
    try {
      await mkdir(this.home, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify({ version: FORMAT_VERSION, settings }, null, 2)}\n`, 'utf8');
      await rename(tmp, this.file);
    } catch (err) {
      throw new ApiError('E_IO', `cannot write ${this.file}: ${(err as Error).message}`);
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
