// Storage every host reaches: run folders (models, adapters, results, checkpoints), the workers'
// per-run stores and the results they hand back, under one folder per namespace. Files are
// referenced by a key (a path inside the namespace) and their sha256, checked on every read.
//
// SharedDirStore is a folder mounted at the same path on every host (NFS, CephFS, a bind mount).
// An S3-compatible store implements the same interface: `workspace` is then a local cache that
// `pull` fills from the bucket and `publish` uploads (checkpoints included, so another worker
// resumes from them), and put/get go to objects.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { RecallError } from '../errors.ts';
import { sha256File } from '../jobs/run-files.ts';

export interface StoredObject { key: string; sha256: string; bytes: number }

export interface ArtifactStore {
  /** Where it is, for messages. */
  readonly location: string;
  /** A folder on this host standing for the namespace (runs/<id>/..., stores/...). */
  workspace(ns: string): string;
  /** Fetches the namespace's files under `dir` (a key prefix) into the workspace. */
  pull(ns: string, dir: string): Promise<void>;
  /** Makes files written under the workspace's `dir` visible to every host. */
  publish(ns: string, dir: string): Promise<void>;
  putBytes(ns: string, key: string, bytes: Buffer): Promise<StoredObject>;
  /** The object's bytes; refused when they do not hash to `sha256`. */
  getBytes(ns: string, key: string, sha256: string): Promise<Buffer>;
  /** Copies a local file in (skipped when the object is there with that sha256). */
  putFile(ns: string, key: string, file: string, sha256: string): Promise<void>;
  /** Copies the object to a local file, checking its sha256. */
  getFile(ns: string, key: string, dest: string, sha256: string): Promise<void>;
}

const sha256Of = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class SharedDirStore implements ArtifactStore {
  readonly location: string;

  constructor(root: string) {
    if (!isAbsolute(root)) root = resolve(root);
    this.location = root;
  }

  workspace(ns: string): string {
    const dir = join(this.location, ns);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async pull(): Promise<void> { /* the folder is the storage */ }
  async publish(): Promise<void> { /* the folder is the storage */ }

  private path(ns: string, key: string): string {
    const rel = normalize(key);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) throw new RecallError('E_INVALID_ARGUMENT', `artifact key '${key}' leaves the namespace`, { key });
    return join(this.workspace(ns), rel);
  }

  async putBytes(ns: string, key: string, bytes: Buffer): Promise<StoredObject> {
    const file = this.path(ns, key);
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed, so a reader never sees half a file.
    writeFileSync(`${file}.${process.pid}.tmp`, bytes);
    renameSync(`${file}.${process.pid}.tmp`, file);
    return { key, sha256: sha256Of(bytes), bytes: bytes.length };
  }

  async getBytes(ns: string, key: string, sha256: string): Promise<Buffer> {
    const file = this.path(ns, key);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new RecallError('E_IO', `shared storage: cannot read ${file} (${(e as Error).message})`, { file }, { cause: e });
    }
    if (sha256Of(bytes) !== sha256) throw new RecallError('E_IO', `shared storage: ${file} does not match its sha256`, { file });
    return bytes;
  }

  async putFile(ns: string, key: string, file: string, sha256: string): Promise<void> {
    const dest = this.path(ns, key);
    if (resolve(dest) === resolve(file)) return;
    if (existsSync(dest) && statSync(dest).size === statSync(file).size && (await sha256File(dest)) === sha256) return;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(file, `${dest}.${process.pid}.tmp`);
    renameSync(`${dest}.${process.pid}.tmp`, dest);
  }

  async getFile(ns: string, key: string, dest: string, sha256: string): Promise<void> {
    const src = this.path(ns, key);
    if (resolve(dest) !== resolve(src)) {
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(src, `${dest}.tmp`);
      renameSync(`${dest}.tmp`, dest);
    }
    if ((await sha256File(dest)) !== sha256) throw new RecallError('E_IO', `shared storage: ${src} does not match its sha256`, { file: src });
  }
}

/** The store a --artifacts value names (a folder; s3:// is not built in yet). */
export function openArtifactStore(spec: string): ArtifactStore {
  if (/^s3:\/\//i.test(spec)) throw new RecallError('E_INVALID_ARGUMENT', `artifacts: S3 storage is not built in yet; mount the bucket (e.g. s3fs, mountpoint-s3) and pass its folder`, { field: 'artifacts' });
  return new SharedDirStore(spec);
}
