// Small text files into and out of a container through the Docker API's archive endpoints (a tar of the files
// extracted into a folder; a tar of one path read back), so nothing depends on the kernel's host or a shell.
import { extract as createTarExtract, pack as createTarPack } from 'tar-stream';
import type Docker from 'dockerode';

/** Writes the files (name → text, mode 0644, root-owned) into `dir` of the container, which may be stopped. */
export async function putFiles(container: Docker.Container, dir: string, files: Record<string, string>): Promise<void> {
  const pack = createTarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, text] of Object.entries(files)) {
    const body = Buffer.from(text, 'utf8');
    pack.entry({ name, size: body.length, mode: 0o644, mtime: new Date(), uid: 0, gid: 0, type: 'file' }, body);
  }
  pack.finalize();
  await ended;
  await container.putArchive(Buffer.concat(chunks), { path: dir });
}

/** The text of one file in the container, or undefined when it is not there. */
export async function readFile(container: Docker.Container, file: string): Promise<string | undefined> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path: file });
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
  const extract = createTarExtract();
  let text: string | undefined;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file' && text === undefined) text = Buffer.concat(chunks).toString('utf8');
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  archive.pipe(extract);
  await done;
  return text;
}
