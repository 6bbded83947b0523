/**
 * `npm start`: the API and one worker under a small supervisor, with Redis found or started (see scripts/lib).
 * For one process per container use `npm run start:api` / `npm run start:worker` instead.
 */
import { resolve } from 'node:path';
import { runService } from './lib/service.ts';

process.exitCode = await runService({ cwd: resolve(import.meta.dirname, '..') });
