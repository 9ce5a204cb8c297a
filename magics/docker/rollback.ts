// %rollback <service> [--to <image>]: deploys the version the serving one replaced (or --to an image) with the same
// ports, environment, secrets and health gate, through the same health-gated cutover as %deploy.
import type Docker from 'dockerode';
import { MagicError, UsageError } from '../../kernel/io/errors';
import type { Magic } from '../registry';
import type { DockerConnection } from './engine/connection';
import { confirmDeploy } from './deploy/confirm';
import { cutover } from './deploy/cutover';
import { DeployRun, recordRefused, withDeployRun } from './deploy/run';
import { localImageId, serving } from './deploy/service';
import { DEFAULT_WAIT_MS, durationMs, isProtected, rollbackSpecOf } from './deploy/spec';
import { LABEL } from './engine/labels';

/**
 * The image the serving version replaced: its reference (`shop/api:1`, what the record then shows) while that still
 * names the same image, else the image id (the tag was moved to another build since).
 */
async function previousVersion(docker: Docker, labels: Record<string, string>): Promise<string | undefined> {
  const id = labels[LABEL.previousImage];
  const ref = labels[LABEL.previousRef];
  if (ref && id) {
    const refId = await docker.getImage(ref).inspect().then((i) => i.Id, () => undefined);
    if (refId === id) return ref;
  }
  return id || undefined;
}

export function rollbackMagic(connection: DockerConnection, env: NodeJS.ProcessEnv = process.env): Magic {
  return {
    name: 'rollback',
    summary: 'go back to the previous version of a service (or --to an image), health-gated like %deploy',
    kind: 'line',
    positional: { name: 'service', description: 'the service to roll back', required: true },
    options: [
      { name: 'to', type: 'string', valueName: 'image', description: 'the image to go back to (default: the one the current version replaced)' },
      { name: 'wait', type: 'string', valueName: 'duration', description: 'how long it may take to get healthy (default 60s)' },
      { name: 'confirm', type: 'boolean', description: 'ask first (headless runs then need --yes)' },
      { name: 'yes', short: 'y', type: 'boolean', description: 'do not ask' },
    ],
    run: async (call) => {
      const service = call.args.rest;
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(service)) throw new UsageError(`%rollback: "${service}" is not a service name (letters, digits, _ . -)`);
      const { docker } = await connection.engine();
      const current = await serving(docker, service);
      if (!current) throw new MagicError(`nothing is serving ${service}`, `%ps --all --filter service=${service} shows its containers`);
      const info = await docker.getContainer(current.Id).inspect();
      const labels = info.Config.Labels ?? {};
      const target = typeof call.args.options.to === 'string' ? call.args.options.to : await previousVersion(docker, labels);
      if (!target) throw new MagicError(`${service} has no previous version to go back to`, 'pass --to <image>');
      const spec = rollbackSpecOf(service, target, labels, info.Config.Env ?? [], durationMs(call.args.options.wait, DEFAULT_WAIT_MS, '--wait'), env);
      if (call.args.options.confirm === true || isProtected(service, env)) await confirmDeploy(call, spec);
      const imageId = await localImageId(docker, spec.image).catch((e: Error) => recordRefused(docker, call.io, spec, spec.kind, e));
      const run = new DeployRun(docker, call.io, spec, imageId);
      return withDeployRun(run, () => cutover(run, call.bound));
    },
  };
}
