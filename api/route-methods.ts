/**
 * 405 instead of 404 for a known path asked with the wrong method: remembers each route's methods as routes are
 * added (onRoute), and tells the not-found handler which methods a path would allow.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../shared/errors.ts';

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
}

/** '/jobs/:id' -> /^\/jobs\/[^/]+$/; '/admin/*' -> /^\/admin\/.*$/ */
function toPattern(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

export class RouteMethods {
  private readonly paths = new Map<string, KnownPath>();

  add(url: string, methods: string | string[]): void {
    let known = this.paths.get(url);
    if (!known) this.paths.set(url, (known = { pattern: toPattern(url), methods: new Set() }));
    for (const method of [methods].flat()) known.methods.add(method.toUpperCase());
  }

  /** Methods some route allows on this path (query string ignored); empty when no route has the path. */
  allowed(url: string): string[] {
    const path = url.split('?', 1)[0] ?? url;
    const methods = new Set<string>();
    for (const known of this.paths.values()) {
      if (known.pattern.test(path)) for (const method of known.methods) methods.add(method);
    }
    return [...methods].sort();
  }

  /** The not-found answer: 405 with Allow when the path exists under other methods, else 404. */
  notFound(request: FastifyRequest, reply: FastifyReply): ServiceError {
    const allowed = this.allowed(request.url);
    if (allowed.length === 0) return new ServiceError('ROUTE_NOT_FOUND');
    reply.header('Allow', allowed.join(', '));
    return new ServiceError('METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allowed.join(', ')}.`, {
      allow: allowed,
    });
  }
}

/** Starts recording the methods of every route added from now on (call before registering routes). */
export function trackRouteMethods(app: FastifyInstance): RouteMethods {
  const methods = new RouteMethods();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));
  return methods;
}
