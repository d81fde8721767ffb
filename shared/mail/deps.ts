import type { Mailer } from './mailer';

/** Mail's part of `Deps` (declared here so `platform/deps.ts` names no domain). */
declare module '../platform/deps' {
  interface Deps {
    mailer: Mailer;
  }
}
