// Reading *_json columns back. A value that does not parse means the file was edited or damaged
// outside Recall; say which row and column rather than throwing a bare SyntaxError.

import { RecallError } from '../errors.ts';

export function parseJsonColumn<T = unknown>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new RecallError('E_STORE_CORRUPT', `run database: ${where} is not valid JSON (${(err as Error).message})`, { where }, { cause: err });
  }
}

/** JSON.stringify that refuses values it would lose (undefined at top level, functions). */
export function toJsonColumn(value: unknown, where: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new RecallError('E_INVALID_ARGUMENT', `${where}: value cannot be stored as JSON`, { where });
  return text;
}
