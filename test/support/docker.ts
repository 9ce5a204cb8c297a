// Docker for tests: removes what a suite created (services, containers, images, networks, volumes) by label, and
// describes a suite that needs an engine.
import { docker } from '../../notebooks/stack/commands';
import { dockerAvailable, ensureDocker } from '../../notebooks/stack/engine';
import { ensureBaseImages } from '../../notebooks/stack/base-images';
import { ensureProxyImage } from '../../notebooks/stack/proxy-image';

async function idsWithLabel(listArgs: string[], label: string): Promise<string[]> {
  const { stdout } = await docker([...listArgs, '--filter', `label=${label}`], 30000);
  return [...new Set(stdout.split('\n').map((id) => id.trim()).filter((id) => id !== ''))];
}

async function swarmActive(): Promise<boolean> {
  const { stdout } = await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], 15000);
  return stdout.trim() === 'active';
}

/**
 * Removes services, containers (forced), images (forced, with all their tags), networks and volumes carrying the
 * label ("key" or "key=value"). Services only when this engine is a swarm manager.
 */
export async function removeByLabel(label: string): Promise<void> {
  if (await swarmActive()) {
    const services = await idsWithLabel(['service', 'ls', '-q'], label);
    if (services.length > 0) await docker(['service', 'rm', ...services], 60000);
  }
  const containers = await idsWithLabel(['ps', '-aq'], label);
  if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers], 60000);
  const images = await idsWithLabel(['images', '-q'], label);
  if (images.length > 0) await docker(['image', 'rm', '-f', ...images], 60000);
  const networks = await idsWithLabel(['network', 'ls', '-q'], label);
  if (networks.length > 0) await docker(['network', 'rm', ...networks], 30000);
  const volumes = await idsWithLabel(['volume', 'ls', '-q'], label);
  if (volumes.length > 0) await docker(['volume', 'rm', '-f', ...volumes], 30000);
}

/**
 * `describe` for a suite that needs a Docker engine: skipped with a warning when none answers, except with CI=true,
 * where a missing engine must fail the suite instead of hiding it.
 */
export function describeWithDocker(suite: string): jest.Describe {
  const mustRun = process.env.CI === 'true';
  const available = dockerAvailable();
  if (!available && !mustRun) console.warn(`${suite}: SKIPPED, no Docker engine answers (install docker.io and start dockerd); with CI=true this suite fails instead`);
  return available || mustRun ? describe : describe.skip;
}

/** What every deploy suite needs before its first %deploy: a running engine, the base images and the proxy image. */
export async function ensureDeployParts(): Promise<void> {
  await ensureDocker();
  await ensureBaseImages();
  await ensureProxyImage();
}
