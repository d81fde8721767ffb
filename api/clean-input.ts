import type { RequestHandler } from 'express';

/**
 * One rule for every route's strings (query and JSON body): see shared/platform/validation.ts.
 * A pass-through until issue 17's input work fills it in.
 */
export const cleanInput: RequestHandler = (_req, _res, next) => next();
