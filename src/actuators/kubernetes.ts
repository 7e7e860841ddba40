import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** Request option that sends a JSON merge patch (client-node defaults to JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A Kubernetes API error in one line: status code and the server's message. */
export function errorStatus(error: unknown): string {
  const e = error as { code?: number; body?: unknown; message?: string };
  let message = e.message ?? String(error);
  const body = typeof e.body === 'string' ? safeParse(e.body) : e.body;
  if (body && typeof body === 'object' && 'message' in body)
    message = String((body as { message: unknown }).message);
  return e.code ? `${e.code} ${message}` : message;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
