import path from 'node:path';

/**
 * Resolves `<name>/<path>` under a mount root, refusing paths that climb out of it, so a spec
 * cannot read other volumes of the evaluator pod.
 */
export function underMountRoot(root: string, uri: string, scheme: string): string {
  const rest = uri.slice(`${scheme}://`.length);
  const [name, ...parts] = rest.split('/');
  if (!name || parts.length === 0 || parts.join('/') === '') {
    throw new Error(`${uri}: expected ${scheme}://<name>/<path>`);
  }
  const base = path.resolve(root, name);
  const resolved = path.resolve(base, decodeURIComponent(parts.join('/')));
  if (!resolved.startsWith(base + path.sep)) throw new Error(`${uri}: path leaves the ${scheme} mount`);
  return resolved;
}
