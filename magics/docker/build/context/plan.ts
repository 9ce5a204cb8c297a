// The plan of a build context, made before the first byte is sent, as the docker CLI does it
// (cli/command/image/build/context.go): the context root and the Dockerfile resolved through symlinks, with the
// CLI's errors; the .dockerignore patterns compiled, plus the `!` exceptions that always send the Dockerfile and
// .dockerignore; and, for a Dockerfile outside the context, the copy the CLI adds under a random name.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { DOCKERIGNORE, readDockerignore } from './dockerignore';
import { errorCode, errorMessage } from './errors';
import { lstatOf } from './fs-calls';
import { IgnoreMatcher } from './ignore-matcher';
import type { ContextOptions } from './types';

const DEFAULT_DOCKERFILE = 'Dockerfile';

interface ResolvedDockerfile {
  /** Real path of the Dockerfile. */
  absolutePath: string;
  /** Path relative to the context root, '/'-separated; starts with '../' when outside. */
  relativePath: string;
  inside: boolean;
}

/** Data the CLI adds to the tar when the Dockerfile is outside the context. */
interface OutsideDockerfile {
  name: string;
  content: Buffer;
  mtime: Date;
}

export interface ContextPlan {
  root: string;
  /** The `dockerfile` build option. */
  dockerfile: string;
  matcher: IgnoreMatcher;
  /** Paths sent even when excluded, and folders walked to reach them. */
  forcedFiles: ReadonlySet<string>;
  forcedDirs: ReadonlySet<string>;
  outside: OutsideDockerfile | null;
}

async function pathExists(file: string): Promise<boolean> {
  try {
    await lstatOf(file);
    return true;
  } catch {
    return false;
  }
}

/** Absolute, symlink-free context root; the CLI's "path not found" and "must be a directory" errors. */
async function resolveContextRoot(contextDir: string): Promise<string> {
  const absolute = path.resolve(contextDir);
  let info: Stats;
  try {
    info = await stat(absolute);
  } catch {
    throw new Error(`unable to prepare context: path "${contextDir}" not found`);
  }
  if (!info.isDirectory()) throw new Error(`unable to prepare context: context must be a directory: ${absolute}`);
  return realpath(absolute);
}

/** Default Dockerfile, with the CLI's fallback to a lowercase 'dockerfile' when only that exists. */
async function defaultDockerfile(root: string): Promise<string> {
  const standard = path.join(root, DEFAULT_DOCKERFILE);
  const lowercase = path.join(root, DEFAULT_DOCKERFILE.toLowerCase());
  if (!(await pathExists(standard)) && (await pathExists(lowercase))) return lowercase;
  return standard;
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

async function resolveDockerfile(root: string, contextDir: string, given: string | undefined): Promise<ResolvedDockerfile> {
  const candidate = given === undefined || given === '' ? await defaultDockerfile(root) : path.resolve(path.resolve(contextDir), given);
  let absolutePath: string;
  try {
    absolutePath = await realpath(candidate);
  } catch (error) {
    const reason = errorCode(error) === 'ENOENT' ? 'no such file or directory' : errorMessage(error);
    throw new Error(`unable to prepare context: cannot locate Dockerfile ${candidate}: ${reason}`);
  }
  const relativePath = toPosix(path.relative(root, absolutePath));
  const inside = !(relativePath === '..' || relativePath.startsWith('../') || path.isAbsolute(relativePath));
  return { absolutePath, relativePath, inside };
}

/**
 * build.TrimBuildFilesFromExcludes: when .dockerignore or the Dockerfile is excluded, an exception for it is
 * appended. (The CLI tests this with patternmatcher's older single-parent Matches; the full parent check is used
 * here, which gives the same list except where that older check misses an excluded Dockerfile.)
 */
function keepBuildFiles(excludes: readonly string[], dockerfile: ResolvedDockerfile): string[] {
  const matcher = new IgnoreMatcher(excludes);
  const kept = [...excludes];
  if (matcher.ignores(DOCKERIGNORE)) kept.push(`!${DOCKERIGNORE}`);
  if (dockerfile.inside && matcher.ignores(dockerfile.relativePath)) kept.push(`!${dockerfile.relativePath}`);
  return kept;
}

function ancestorsOf(relative: string): Set<string> {
  const ancestors = new Set<string>();
  for (let dir = path.posix.dirname(relative); dir !== '.' && dir !== '/'; dir = path.posix.dirname(dir)) ancestors.add(dir);
  return ancestors;
}

/** The CLI's name for a Dockerfile copied into the context: '.dockerfile.' and 20 random hex digits. */
function outsideDockerfileName(): string {
  return `.dockerfile.${randomBytes(10).toString('hex')}`;
}

export async function planContext(contextDir: string, options: ContextOptions): Promise<ContextPlan> {
  const root = await resolveContextRoot(contextDir);
  const dockerfile = await resolveDockerfile(root, contextDir, options.dockerfile);
  const excludes = await readDockerignore(root);
  let matcher: IgnoreMatcher;
  try {
    matcher = new IgnoreMatcher(keepBuildFiles(excludes, dockerfile));
  } catch (error) {
    throw new Error(`error checking context: ${errorMessage(error)} (in ${path.join(root, DOCKERIGNORE)})`);
  }
  const outside = dockerfile.inside ? null : { name: outsideDockerfileName(), content: await readFile(dockerfile.absolutePath), mtime: new Date() };
  const forcedFiles = new Set([DOCKERIGNORE]);
  if (dockerfile.inside) forcedFiles.add(dockerfile.relativePath);
  return {
    root,
    dockerfile: outside === null ? dockerfile.relativePath : outside.name,
    matcher,
    forcedFiles,
    forcedDirs: dockerfile.inside ? ancestorsOf(dockerfile.relativePath) : new Set<string>(),
    outside,
  };
}
