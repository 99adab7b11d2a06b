// How the launcher shows paths and shell words in what it prints.
import { relative } from 'node:path';

/** `path` relative to the working directory when it lies below it (shorter to read), else absolute. */
export function shownPath(path) {
  const below = relative(process.cwd(), path);
  return below !== '' && !below.startsWith('..') ? below : path;
}

/** `text` as one shell word: as it is when it holds only safe characters, else in single quotes. */
export function shellWord(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
