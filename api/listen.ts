/** Listening, with one clear line instead of a stack trace when the address cannot be used. */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../shared/config.ts';

/** Why the API cannot listen, in one line naming the setting that changes it; undefined for other errors. */
export function listenProblem(error: unknown, config: Pick<Config, 'HOST' | 'PORT'>): string | undefined {
  const address = `${config.HOST}:${config.PORT}`;
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `Cannot listen on ${address}: the address is already in use. Stop the other process, or set PORT (or HOST) to listen elsewhere.`;
    case 'EACCES':
      return `Cannot listen on ${address}: permission denied (ports below 1024 need privileges). Set PORT to another port.`;
    case 'EADDRNOTAVAIL':
      return `Cannot listen on ${address}: HOST is not an address of this machine. Set HOST to another address.`;
    default:
      return undefined;
  }
}

/** False, after logging one fatal line, when the address cannot be used; any other error is thrown. */
export async function listenOrExplain(app: FastifyInstance, config: Config): Promise<boolean> {
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
    return true;
  } catch (error) {
    const problem = listenProblem(error, config);
    if (!problem) throw error;
    app.log.fatal({ host: config.HOST, port: config.PORT, code: (error as NodeJS.ErrnoException).code }, problem);
    return false;
  }
}
