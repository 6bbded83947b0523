/**
 * The container's view of this worker: a file touched after each report the worker publishes, so its age says
 * whether the worker is loaded, beating and reaching Redis. The image's HEALTHCHECK is then a stat() in a bare
 * `node -e` (about 40 MB and 50 ms) instead of a Redis client, which would count ~100 MB against the container's
 * memory limit every probe. Removed when reporting starts and on close; a file left by a crash is older than
 * three beats unless the restart took less, which Docker's probe interval and retries make immaterial.
 */
import { rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../shared/logger.ts';

export class HealthFile {
  private failing = false;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  async touch(reportedAt: string): Promise<void> {
    try {
      await writeFile(this.path, `${reportedAt}\n`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.logger.warn({ err: error, path: this.path }, 'health file not written; retrying every heartbeat');
      this.failing = true;
    }
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true }).catch((error: unknown) => this.logger.warn({ err: error, path: this.path }, 'health file not removed'));
  }
}
