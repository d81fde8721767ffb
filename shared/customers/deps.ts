/** What the customers domain offers the movers of domains: a domain leaving its reseller leaves its packages. */
interface PackageLinks {
  /**
   * The body of a CTE removing the package links of the domains a CTE of the same statement returns
   * (`movedCte`, rows `(id)`): one statement moves a chunk's domains and everything that follows them.
   */
  dropForMovedSql(movedCte: string): string;
}

/**
 * The customers' part of `Deps` (declared here so that the push, a folder of the same layer, calls
 * it without importing customers; `app/runtime.ts` fills it in with `packages.ts`).
 */
declare module '../platform/deps' {
  interface Deps {
    packages: PackageLinks;
  }
}
