/** The engine's public surface: the worker and the score CLI import from here only. */
export { loadEngine } from './engine.ts';
export {
  EngineError,
  type EngineErrorCode,
  type EngineInfo,
  type EngineOptions,
  type LongDocuments,
  type RerankEngine,
  type ScoreOptions,
  type ScoreResult,
  type ScoreTimings,
} from './types.ts';
export type { ChunkOptions } from './chunking.ts';
