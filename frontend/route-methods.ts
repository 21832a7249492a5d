import type { FastifyInstance } from 'fastify';

/**
 * The methods each route takes, as registered, so that a request the router has no route for
 * can be told apart: a path that exists with another method is 405 with `Allow` (RFC 9110
 * §15.5.6), not 404. Patterns are fastify's: static paths, `:name` segments and a trailing `*`.
 */
export class RouteMethods {
  private readonly routes: { readonly match: RegExp; readonly methods: Set<string> }[] = [];

  /** Records every route `app` registers from now on (call before registering them). */
  watch(app: FastifyInstance): void {
    app.addHook('onRoute', ({ url, method }) => {
      const methods = Array.isArray(method) ? method : [method];
      const pattern = patternOf(url);
      let route = this.routes.find((r) => r.match.source === pattern.source);
      if (route === undefined) {
        route = { match: pattern, methods: new Set() };
        this.routes.push(route);
      }
      for (const m of methods) route.methods.add(m.toUpperCase());
    });
  }

  /** The methods `path` (no query) takes, sorted; empty when no route has it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.match.test(path)) for (const m of route.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${escaped}$`);
}
