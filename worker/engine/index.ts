/** The engine's public surface: the worker and the score CLI import from here only. */
export { loadEngine } from './engine.ts';
export {
  EngineError,
  type EngineErrorCode,
  type EngineInfo,
  type EngineOptions,
  type RerankEngine,
  type ScoreOptions,
  type ScoreResult,
  type ScoreTimings,
} from './types.ts';
