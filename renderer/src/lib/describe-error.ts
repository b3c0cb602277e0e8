// Turns an error envelope into a line for the UI, and finds the field it names.

import type { ApiErrorBody } from '../../../main/contract/index.ts';

export function describeError(error: ApiErrorBody): string {
  return `${error.message} (${error.code})`;
}

/** The first field named in an E_BAD_ARGUMENT's details.issues, if any. */
export function errorField(error: ApiErrorBody): string | null {
  const issues = (error.details as { issues?: { path?: string }[] } | undefined)?.issues;
  const path = issues?.[0]?.path;
  if (path) return path.split('.')[0]!;
  const field = (error.details as { field?: string } | undefined)?.field;
  return typeof field === 'string' ? field : null;
}
