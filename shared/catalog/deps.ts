import type { RegistryGateway } from './registry';

/** The catalog's part of `Deps` (declared here so `platform/deps.ts` names no domain). */
declare module '../platform/deps' {
  interface Deps {
    registry: RegistryGateway;
  }
}
