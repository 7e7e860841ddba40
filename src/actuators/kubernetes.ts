import {
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';

/** The field manager of every write the operator makes (managedFields show who changed what). */
export const fieldManager = 'pruneguard';

/** Request option that sends a JSON merge patch (client-node defaults to JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

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

function statusCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

/** 409: the object exists already (a create), or was changed since it was read (an update). */
export const isConflict = (error: unknown) => statusCode(error) === 409;
export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isForbidden = (error: unknown) => statusCode(error) === 403;
/** 422: the API server's schema or CEL rules refused the object. */
export const isInvalid = (error: unknown) => statusCode(error) === 422;

/** For creates that may find the object already there (a deterministic name, a repeated reconcile). */
export function ignoreConflict(error: unknown): void {
  if (!isConflict(error)) throw error;
}

export function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}

/** Request option that ends the request (and its wait for an answer) when `signal` aborts. */
export function abortingOn(signal: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
