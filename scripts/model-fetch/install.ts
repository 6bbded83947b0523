/**
 * Staging and installing a model directory so that the target is never half-written: files land in a temporary
 * sibling (same filesystem, so rename is atomic) and replace the target only once all of them are verified.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Creates `DIR.partial-<pid>-<random>` beside `dir`; the pid tells whose leftover it is after a crash. */
export async function makeStagingDir(dir: string): Promise<string> {
  const staging = siblingName(dir, 'partial');
  await mkdir(staging, { recursive: true });
  return staging;
}

/**
 * Moves `staging` to `dir`. An existing `dir` is first moved aside and deleted only after the new one is in
 * place, and moved back if that fails; between the two renames `dir` is briefly absent, never partial.
 */
export async function installDir(staging: string, dir: string, replace: boolean): Promise<void> {
  if (!replace) {
    await rename(staging, dir);
    return;
  }
  const previous = siblingName(dir, 'old');
  await rename(dir, previous);
  try {
    await rename(staging, dir);
  } catch (error) {
    await rename(previous, dir);
    throw error;
  }
  await rm(previous, { recursive: true, force: true });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

function siblingName(dir: string, purpose: string): string {
  return join(dirname(dir), `${basename(dir)}.${purpose}-${process.pid}-${randomBytes(4).toString('hex')}`);
}
