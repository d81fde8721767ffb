import type { RequestHandler } from 'express';
import { InvalidRequest } from '../shared/platform/errors';
import { assertCleanInput, findInputProblem } from '../shared/platform/validation';

/**
 * One rule for every route's input, before any route sees it (shared/platform/validation.ts,
 * findInputProblem): no NUL, no unpaired surrogate, no prototype key (`__proto__`, `constructor`,
 * `prototype`), no number JSON cannot carry — in the query, the parsed body and the path. A
 * refusal is the spec's 400 invalid_request naming the field, like any other validation error.
 *
 * Route parameters are not known yet at this point (no route has matched), so the path is checked
 * segment by segment as the router will decode it: every `:param` is one of those segments. A
 * segment that is not valid percent-encoding (`%ED%A0%80` would decode to a lone surrogate, `%E0`
 * to nothing) is refused here too, with the same shape, instead of the router's bare 400.
 */
export const cleanInput: RequestHandler = (req, _res, next) => {
  checkPath(req.path);
  assertCleanInput(req.query, 'query');
  if (req.body !== undefined) assertCleanInput(req.body, 'body');
  next();
};

function checkPath(path: string) {
  const segments = path.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    if (!segment.includes('%') && findInputProblem(segment, 'path') === undefined) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw refused(i, 'is not valid percent-encoded UTF-8');
    }
    const problem = findInputProblem(decoded, 'path');
    if (problem) throw refused(i, problem.message);
  }
}

/** `path.2` is the third segment of the path (`/v1/domains/{name}` → `name`). */
function refused(index: number, message: string) {
  const path = `path.${index}`;
  return new InvalidRequest(`Invalid path: ${path} (segment ${index + 1}) ${message}`, { fields: [{ path, message }] });
}
