// Unit: the %build context packer (magics/docker/build/context/) on real folders: .dockerignore reading and pattern
// semantics as the docker CLI has them (`*.log`, `**/tmp`, `!` exceptions, leading '/', `dir/`, comments), the
// Dockerfile and .dockerignore always sent, `-f` in a subfolder and outside the context, symlinks, hard links, empty
// folders, modes and mtimes, byte order, the tar stream itself, a 1 GiB sparse file streamed in bounded memory, and
// the errors (unreadable file, missing context or Dockerfile, abort).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import {
  contextEntries,
  contextSummaryLine,
  formatContextSize,
  IgnoreMatcher,
  packContext,
  parseDockerignore,
  readDockerignore,
  type ContextEntry,
  type ContextSummary,
} from '../../magics/docker/build/context';

const MODULE_PATH = path.resolve(__dirname, '../../magics/docker/build/context/index.ts');
const REPO_ROOT = path.resolve(__dirname, '../..');
const GIB = 1024 * 1024 * 1024;
const MAX_RSS_GROWTH = 100 * 1024 * 1024;

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'opsbook-build-context-'));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A file to create: its content, or a spec with content and mode. */
type FileSpec = string | { content: string; mode: number };

/** Creates a fresh context folder with `files` (paths relative to it) and returns its path. */
function makeContext(files: Record<string, FileSpec>): string {
  const root = fs.mkdtempSync(path.join(scratch, 'ctx-'));
  for (const [relative, spec] of Object.entries(files)) {
    const file = path.join(root, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof spec === 'string') fs.writeFileSync(file, spec);
    else {
      fs.writeFileSync(file, spec.content);
      fs.chmodSync(file, spec.mode);
    }
  }
  return root;
}

async function listEntries(root: string, dockerfile?: string): Promise<ContextEntry[]> {
  const entries: ContextEntry[] = [];
  for await (const entry of contextEntries(root, { dockerfile })) entries.push(entry);
  return entries;
}

/** Paths the CLI would send, in order; directories with a trailing '/'. */
async function sentPaths(root: string, dockerfile?: string): Promise<string[]> {
  return (await listEntries(root, dockerfile)).map((entry) => (entry.type === 'directory' ? `${entry.path}/` : entry.path));
}

interface TarRecord {
  header: Header;
  content: Buffer;
}

/** Reads a whole tar stream into headers and contents (for small test contexts). */
async function readTar(stream: Readable): Promise<TarRecord[]> {
  const records: TarRecord[] = [];
  const parser = extract();
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      body.on('end', () => {
        records.push({ header, content: Buffer.concat(chunks) });
        next();
      });
    });
    parser.on('finish', resolve);
    parser.on('error', reject);
  });
  for await (const chunk of stream) parser.write(chunk);
  parser.end(undefined);
  await parsed;
  return records;
}

async function packToRecords(root: string, dockerfile?: string): Promise<{ records: TarRecord[]; summary: ContextSummary }> {
  const packed = packContext(root, { dockerfile });
  const records = await readTar(packed.stream);
  return { records, summary: await packed.done };
}

/** The `dockerfile` build option packContext resolves; the stream is not read. */
async function dockerfileOption(root: string, dockerfile?: string): Promise<string> {
  const packed = packContext(root, { dockerfile });
  try {
    return await packed.dockerfile;
  } finally {
    packed.stream.destroy();
  }
}

describe('reading .dockerignore', () => {
  test('drops comments (only a leading #) and blank lines, trims, cleans paths and a leading /', () => {
    const text = '\ufeff# comment\n\n   \n*.log  \n  # not a comment\n/abs\ndir/\n./x/../y\n!  keep.log\r\n**/tmp\n';
    expect(parseDockerignore(text)).toEqual(['*.log', '# not a comment', 'abs', 'dir', 'y', '!keep.log', '**/tmp']);
  });

  test('reads <context>/.dockerignore, and none is no patterns', async () => {
    const withIgnore = makeContext({ '.dockerignore': 'a\n#b\nc/\n' });
    expect(await readDockerignore(withIgnore)).toEqual(['a', 'c']);
    expect(await readDockerignore(makeContext({ Dockerfile: 'FROM x\n' }))).toEqual([]);
  });
});

describe('pattern semantics', () => {
  const matcher = (patterns: string[]): IgnoreMatcher => new IgnoreMatcher(patterns);

  test('* stays in one path segment; ** crosses them; a folder match covers what is below it', () => {
    expect(matcher(['*.log']).ignores('a.log')).toBe(true);
    expect(matcher(['*.log']).ignores('sub/a.log')).toBe(false);
    expect(matcher(['**/*.log']).ignores('sub/deep/a.log')).toBe(true);
    expect(matcher(['**/tmp']).ignores('tmp')).toBe(true);
    expect(matcher(['**/tmp']).ignores('src/app/tmp/file')).toBe(true);
    expect(matcher(['dir']).ignores('dir/sub/file')).toBe(true);
    expect(matcher(['a?c']).ignores('abc')).toBe(true);
    expect(matcher(['a?c']).ignores('a/c')).toBe(false);
    expect(matcher(['[a-c]*']).ignores('build')).toBe(true);
  });

  test('the last matching pattern wins; ! re-includes', () => {
    expect(matcher(['*.log', '!keep.log']).ignores('keep.log')).toBe(false);
    expect(matcher(['!b.txt', '*.txt']).ignores('b.txt')).toBe(true);
  });

  test('patternmatcher quirks: **x is a suffix match, x** a prefix match, \\ escapes', () => {
    expect(matcher(['**.txt']).ignores('notes.txt')).toBe(true);
    expect(matcher(['foo**']).ignores('foobar')).toBe(true);
    expect(matcher(['\\*.log']).ignores('*.log')).toBe(true);
    expect(matcher(['\\*.log']).ignores('a.log')).toBe(false);
  });

  test('bad patterns fail like the CLI', () => {
    expect(() => matcher(['[a'])).toThrow('syntax error in pattern');
    expect(() => matcher(['!'])).toThrow('illegal exclusion pattern: "!"');
  });
});

describe('what is sent', () => {
  test('*.log, !keep.log, **/tmp, /abs, dir/ and comments, in Go byte order', async () => {
    const root = makeContext({
      Dockerfile: 'FROM x\n',
      '.dockerignore': '# logs\n*.log\n!keep.log\n**/tmp\n/abs\ndir/\n',
      'a.log': '',
      'keep.log': '',
      'sub/a.log': '',
      'tmp/t': '',
      'src/tmp/t': '',
      'src/main.js': '',
      abs: '',
      'sub/abs': '',
      'dir/x': '',
      Zeta: '',
    });
    expect(await sentPaths(root)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'Zeta',
      'keep.log',
      'src/',
      'src/main.js',
      'sub/',
      'sub/a.log',
      'sub/abs',
    ]);
  });

  test('an excluded folder is walked only when an exception starts with its path, and is not sent itself', async () => {
    const files = { Dockerfile: 'FROM x\n', 'node_modules/a/index.js': '', 'node_modules/keep-me/index.js': '', 'node_modules/keep-me/lib/x.js': '' };
    const prefixed = makeContext({ ...files, '.dockerignore': 'node_modules\n!node_modules/keep-me\n' });
    expect(await sentPaths(prefixed)).toEqual(['.dockerignore', 'Dockerfile', 'node_modules/keep-me/', 'node_modules/keep-me/index.js', 'node_modules/keep-me/lib/', 'node_modules/keep-me/lib/x.js']);
    // `!**/index.js` does not start with "node_modules/": the CLI skips the folder without looking inside.
    const unprefixed = makeContext({ ...files, '.dockerignore': 'node_modules\n!**/index.js\n' });
    expect(await sentPaths(unprefixed)).toEqual(['.dockerignore', 'Dockerfile']);
  });

  test('the Dockerfile and .dockerignore are sent even when they are ignored', async () => {
    const everything = makeContext({ Dockerfile: 'FROM x\n', '.dockerignore': '*\n', 'a.txt': '', 'sub/b.txt': '' });
    expect(await sentPaths(everything)).toEqual(['.dockerignore', 'Dockerfile']);
    const themselves = makeContext({ Dockerfile: 'FROM x\n', '.dockerignore': '.dockerignore\nDockerfile\n', 'a.txt': '' });
    expect(await sentPaths(themselves)).toEqual(['.dockerignore', 'Dockerfile', 'a.txt']);
  });

  test('-f sub/Other.dockerfile in an ignored folder: only that file comes through (not the folder entry)', async () => {
    const root = makeContext({ '.dockerignore': 'sub\n', 'sub/Other.dockerfile': 'FROM x\n', 'sub/other.txt': '', 'top.txt': '' });
    expect(await sentPaths(root, 'sub/Other.dockerfile')).toEqual(['.dockerignore', 'sub/Other.dockerfile', 'top.txt']);
    const everything = makeContext({ '.dockerignore': '*\n', 'sub/Other.dockerfile': 'FROM x\n', 'sub/other.txt': '' });
    const packed = packContext(everything, { dockerfile: 'sub/Other.dockerfile' });
    expect(await packed.dockerfile).toBe('sub/Other.dockerfile');
    expect((await readTar(packed.stream)).map((record) => record.header.name)).toEqual(['.dockerignore', 'sub/Other.dockerfile']);
  });

  test('a lowercase dockerfile is the default when there is no Dockerfile; a symlinked Dockerfile resolves to its target', async () => {
    const lowercase = makeContext({ dockerfile: 'FROM x\n' });
    expect(await dockerfileOption(lowercase)).toBe('dockerfile');
    const linked = makeContext({ 'docker/prod.Dockerfile': 'FROM x\n' });
    fs.symlinkSync('docker/prod.Dockerfile', path.join(linked, 'Dockerfile'));
    expect(await dockerfileOption(linked)).toBe('docker/prod.Dockerfile');
  });

  test('a Dockerfile outside the context is added as .dockerfile.<random>, and .dockerignore lists it', async () => {
    const root = makeContext({ '.dockerignore': 'a.log\n', 'a.log': '', 'b.txt': 'b' });
    const outside = path.join(scratch, `outside-${path.basename(root)}.Dockerfile`);
    fs.writeFileSync(outside, 'FROM outside\n');
    const packed = packContext(root, { dockerfile: outside });
    const name = await packed.dockerfile;
    expect(name).toMatch(/^\.dockerfile\.[0-9a-f]{20}$/);
    const records = await readTar(packed.stream);
    expect(records.map((record) => record.header.name)).toEqual(['.dockerignore', 'b.txt', name]);
    expect(records[0].content.toString()).toBe(`a.log\n\n${name}\n`);
    expect(records[2].content.toString()).toBe('FROM outside\n');
    expect(records[2].header.mode).toBe(0o600);
  });

  test('symlinks stay symlinks (target as is, never followed), empty folders are sent', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n', 'dir/file': 'f' });
    fs.symlinkSync('../Dockerfile', path.join(root, 'dir/relative'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'absolute'));
    fs.symlinkSync('missing', path.join(root, 'dangling'));
    fs.symlinkSync('dir', path.join(root, 'dirlink'));
    fs.mkdirSync(path.join(root, 'empty/inner'), { recursive: true });
    const entries = await listEntries(root);
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    expect(entries.map((entry) => entry.path)).toEqual(['Dockerfile', 'absolute', 'dangling', 'dir', 'dir/file', 'dir/relative', 'dirlink', 'empty', 'empty/inner']);
    expect(byPath.get('dir/relative')).toMatchObject({ type: 'symlink', linkname: '../Dockerfile', size: 0 });
    expect(byPath.get('absolute')).toMatchObject({ type: 'symlink', linkname: '/etc/passwd' });
    expect(byPath.get('dangling')).toMatchObject({ type: 'symlink', linkname: 'missing' });
    expect(byPath.get('dirlink')).toMatchObject({ type: 'symlink', linkname: 'dir' });
    expect(byPath.get('empty/inner')).toMatchObject({ type: 'directory', size: 0 });
    const { records } = await packToRecords(root);
    expect(records.find((record) => record.header.name === 'empty/inner/')?.header.type).toBe('directory');
    expect(records.find((record) => record.header.name === 'dirlink')?.header).toMatchObject({ type: 'symlink', linkname: 'dir' });
  });

  test('hard links become links to the first path sent', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n', 'b.txt': 'shared' });
    fs.linkSync(path.join(root, 'b.txt'), path.join(root, 'a-link'));
    const entries = await listEntries(root);
    expect(entries.find((entry) => entry.path === 'a-link')).toMatchObject({ type: 'file', size: 6 });
    expect(entries.find((entry) => entry.path === 'b.txt')).toMatchObject({ type: 'hardlink', linkname: 'a-link', size: 0 });
  });

  test('modes (0755, setuid, 000), uid/gid 0 and mtimes to the second reach the tar headers', async () => {
    const root = makeContext({
      Dockerfile: 'FROM x\n',
      'run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      setuid: { content: 's', mode: 0o4755 },
      locked: { content: 'z', mode: 0o000 },
      plain: 'p',
    });
    fs.chmodSync(path.join(root, 'locked'), 0o000); // umask-proof
    fs.utimesSync(path.join(root, 'plain'), 1500000000.75, 1500000000.75);
    fs.utimesSync(path.join(root, 'run.sh'), 4102444800, 4102444800); // 2100: beyond a 32-bit mtime
    const byName = new Map((await packToRecords(root)).records.map((record) => [record.header.name, record.header]));
    expect(byName.get('run.sh')).toMatchObject({ mode: 0o755, uid: 0, gid: 0, size: 18, type: 'file' });
    expect(byName.get('setuid')?.mode).toBe(0o4755);
    expect(byName.get('locked')?.mode).toBe(0o000);
    expect(byName.get('plain')?.mtime).toEqual(new Date(1500000000 * 1000));
    expect((byName.get('run.sh')?.pax as Record<string, string> | undefined)?.mtime).toBe('4102444800');
  });

  test('names are ordered by UTF-8 bytes like Go, not by UTF-16 units', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n', '\u{1F600}.txt': '', '\uFF01.txt': '', 'é.txt': '', 'B.txt': '', 'a.txt': '' });
    expect(await sentPaths(root)).toEqual(['B.txt', 'Dockerfile', 'a.txt', 'é.txt', '\uFF01.txt', '\u{1F600}.txt']);
  });
});

describe('the tar stream', () => {
  test('carries every entry of contextEntries with its content, and a summary of it', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n', '.dockerignore': 'ignored\n', ignored: 'no', 'src/a.js': 'a'.repeat(70000), 'src/b.js': 'b', 'ünï/çödé.txt': 'u' });
    fs.mkdirSync(path.join(root, 'empty'));
    const entries = await listEntries(root);
    const { records, summary } = await packToRecords(root);
    expect(records.map((record) => record.header.name)).toEqual(entries.map((entry) => (entry.type === 'directory' ? `${entry.path}/` : entry.path)));
    const contentOf = (name: string): string | undefined => records.find((record) => record.header.name === name)?.content.toString();
    expect(contentOf('src/a.js')).toBe('a'.repeat(70000)); // above the small-file limit: streamed
    expect(contentOf('ünï/çödé.txt')).toBe('u');
    expect(summary).toMatchObject({ dockerfile: 'Dockerfile', files: 5, directories: 3, symlinks: 0, ignored: 1, contentBytes: 70000 + 7 + 8 + 1 + 1 });
    expect(summary.bytes % 512).toBe(0);
    expect(contextSummaryLine(summary)).toBe(`Sending build context to Docker daemon  ${formatContextSize(summary.bytes)} (5 files, 3 directories, 1 ignored by .dockerignore)`);
  });

  test('sizes print like the CLI', () => {
    expect([0, 999, 2048, 10240, 1234567, 5 * GIB].map(formatContextSize)).toEqual(['0B', '999B', '2.048kB', '10.24kB', '1.235MB', '5.369GB']);
  });

  test('is fed lazily: a reader that stops reading stops the packing', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n' });
    for (let index = 0; index < 200; index += 1) fs.writeFileSync(path.join(root, `f${String(index).padStart(3, '0')}`), 'x'.repeat(30000));
    const packed = packContext(root);
    await new Promise((resolve) => packed.stream.once('readable', resolve));
    const first = packed.stream.read(1024) as Buffer | null;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(first?.length).toBe(1024);
    expect(packed.stream.readableLength).toBeLessThanOrEqual(512 * 1024); // 200 files x 30 kB = 6 MB were not buffered
    packed.stream.destroy();
    await expect(packed.done).rejects.toThrow('closed before the whole context was sent');
  });

  test('a 1 GiB sparse file streams through with bounded memory', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n' });
    const big = path.join(root, 'big.img');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, GIB);
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    let total = 0;
    let bigHeaderSeen = false;
    try {
      const packed = packContext(root);
      const parser = extract();
      parser.on('entry', (header, body, next) => {
        if (header.name === 'big.img') bigHeaderSeen = header.size === GIB;
        body.on('end', next);
        body.resume();
      });
      for await (const chunk of packed.stream) {
        total += (chunk as Buffer).length;
        parser.write(chunk);
      }
      parser.end(undefined);
      const summary = await packed.done;
      expect(summary.bytes).toBe(total);
      expect(summary.contentBytes).toBe(GIB + 7);
    } finally {
      clearInterval(sampler);
    }
    expect(bigHeaderSeen).toBe(true);
    expect(total).toBeGreaterThan(GIB);
    expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH);
  });
});

describe('errors', () => {
  test('a missing context and a missing Dockerfile are named', async () => {
    const missing = path.join(scratch, 'does-not-exist');
    const packed = packContext(missing);
    const streamError = new Promise<Error>((resolve) => packed.stream.once('error', resolve));
    await expect(packed.done).rejects.toThrow(`unable to prepare context: path "${missing}" not found`);
    expect((await streamError).message).toContain(missing);
    const noDockerfile = makeContext({ 'a.txt': '' });
    await expect(packContext(noDockerfile).done).rejects.toThrow(`cannot locate Dockerfile ${path.join(fs.realpathSync(noDockerfile), 'Dockerfile')}`);
    await expect(packContext(noDockerfile, { dockerfile: 'sub/Nope' }).dockerfile).rejects.toThrow(path.join(noDockerfile, 'sub/Nope'));
  });

  test('an unreadable file (read whole or streamed) or folder fails the stream and done with an Error naming it', async () => {
    const small = makeContext({ Dockerfile: 'FROM x\n', 'a.txt': 'a', 'secret.txt': 'top secret' });
    const large = makeContext({ Dockerfile: 'FROM x\n', 'big.bin': 'x'.repeat(200 * 1024) });
    const folder = makeContext({ Dockerfile: 'FROM x\n', 'locked/inside.txt': 'i' });
    fs.chmodSync(path.join(small, 'secret.txt'), 0o000);
    fs.chmodSync(path.join(large, 'big.bin'), 0o000);
    fs.chmodSync(path.join(folder, 'locked'), 0o000);
    const real = (root: string, relative: string): string => path.join(fs.realpathSync(root), relative);
    const expected = [
      `error checking context: no permission to read from '${real(small, 'secret.txt')}'`,
      `error checking context: no permission to read from '${real(large, 'big.bin')}'`,
      `error checking context: can't stat '${real(folder, 'locked')}'`,
    ].map((message) => ({ done: message, stream: message }));
    const script = `
      const { packContext } = require(${JSON.stringify(MODULE_PATH)});
      const outcome = async (root) => {
        const packed = packContext(root);
        const streamError = new Promise((resolve) => packed.stream.once('error', resolve));
        packed.stream.resume();
        return packed.done.then(() => ({ done: 'resolved' }), async (error) => ({ done: error.message, stream: (await streamError).message }));
      };
      Promise.all(${JSON.stringify([small, large, folder])}.map(outcome)).then((results) => console.log(JSON.stringify(results)));`;
    // root reads anything, so as root the packing runs as an unprivileged user in a child process
    const asRoot = process.getuid?.() === 0;
    if (asRoot) for (const dir of [small, large, folder, scratch]) fs.chmodSync(dir, 0o755);
    const child = spawnSync(process.execPath, ['-r', 'sucrase/register', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual(expected);
  });

  test('aborting through the signal destroys the stream and rejects done', async () => {
    const root = makeContext({ Dockerfile: 'FROM x\n', 'a.txt': 'a' });
    const controller = new AbortController();
    const packed = packContext(root, { signal: controller.signal });
    controller.abort();
    await expect(packed.done).rejects.toThrow('sending the build context was aborted');
    expect(packed.stream.destroyed).toBe(true);
  });
});
