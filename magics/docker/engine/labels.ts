// The labels opsbook puts on what it creates on a Docker engine. Everything opsbook makes carries MANAGED, so
// leftovers can be found after a partial failure; a service's containers carry SERVICE; a deploy's audit
// record (who, when, what replaced what, how it ended) lives in the labels of the container it started.
export const LABEL = {
  /** "true" on every container, image, service and lock object opsbook creates. */
  managed: 'opsbook.managed',
  /** The service name a container belongs to (`%deploy ... --name api`). */
  service: 'opsbook.service',
  /** The image reference as the user gave it (`shop/api:2`). */
  image: 'opsbook.image',
  /** A short version text for tables: the tag of `image`, or the image id's first 12 hex digits. */
  version: 'opsbook.version',
  /** user@host of the deploy. */
  deployedBy: 'opsbook.deployed-by',
  /** ISO time the deploy started. */
  deployedAt: 'opsbook.deployed-at',
  /** Image id (sha256:...) of the version this deploy replaced, if any. */
  previousImage: 'opsbook.previous-image',
  /** The image reference (`shop/api:1`) of the version this deploy replaced, if any: what %rollback shows and uses. */
  previousRef: 'opsbook.previous-ref',
  /** Deploy id (a short random id) shared by the container and the audit line. */
  deployId: 'opsbook.deploy-id',
  /** The container ports the service publishes, as given: "8080:80,8443:443". */
  ports: 'opsbook.ports',
  /** What the deploy's health gate checks: "image", "cmd:<command>", "url:<path>" or "none". */
  health: 'opsbook.health',
  /** Names of environment variables whose values are secret (masked when shown), comma-separated. */
  secretEnv: 'opsbook.secret-env',
  /** Names of the environment variables the deploy set (so %rollback can set them again), comma-separated. */
  envKeys: 'opsbook.env-keys',
  /** "true" on a deploy's audit record (a created, never started container; see audit.ts). */
  deployRecord: 'opsbook.deploy-record',
  /** "true" on the lock object of a service while a deploy holds it. */
  lock: 'opsbook.lock',
  /** "proxy" on the proxy container in front of a service, "network" on the service's network (versions carry none). */
  role: 'opsbook.role',
  /** "swarm" on what a `%deploy --swarm` made: the Swarm service, its tasks' containers, its proxy and network. */
  mode: 'opsbook.mode',
} as const;

/** The filter that finds a service's containers (running or not). */
export function serviceFilter(service: string): { label: string[] } {
  return { label: [`${LABEL.service}=${service}`] };
}
