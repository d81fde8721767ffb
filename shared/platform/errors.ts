/** One class per category: each carries the HTTP status and the spec's snake_case code. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends AppError {
  constructor(message: string, details?: unknown, code = 'invalid_request') {
    super(400, code, message, details);
  }
}
export class Unauthorized extends AppError {
  constructor(message = 'A valid API key is required (Authorization: Bearer <key>).') {
    super(401, 'unauthorized', message);
  }
}
export class Forbidden extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(403, code, message, details);
  }
}
export class NotFound extends AppError {
  constructor(message = 'Not found.', code = 'not_found') {
    super(404, code, message);
  }
}
export class Conflict extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}
export class Gone extends AppError {
  constructor(code: string, message: string) {
    super(410, code, message);
  }
}
export class Unprocessable extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(422, code, message, details);
  }
}
export class Unavailable extends AppError {
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}
/** 429: the caller is over a limit; `retryAfterSeconds` becomes the Retry-After header. */
export class TooManyRequests extends AppError {
  constructor(
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
    details?: unknown,
  ) {
    super(429, code, message, details);
  }
}
