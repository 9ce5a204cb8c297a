// Callback-based fs calls wrapped in promises for the walk and the file reads: per call they cost a fraction of
// fs/promises (FileHandle objects are expensive), which matters with tens of thousands of small files.
import * as fs from 'node:fs';
import type { BigIntStats, Dirent, Stats } from 'node:fs';

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

function promised<T>(start: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
}

export const lstatOf = (file: string): Promise<Stats> => promised((done) => fs.lstat(file, done));
export const exactLstatOf = (file: string): Promise<BigIntStats> => promised((done) => fs.lstat(file, { bigint: true }, done));
export const readlinkOf = (file: string): Promise<string> => promised((done) => fs.readlink(file, done));
export const direntsOf = (dir: string): Promise<Dirent[]> => promised((done) => fs.readdir(dir, { withFileTypes: true }, done));
export const openForRead = (file: string): Promise<number> => promised((done) => fs.open(file, 'r', done));
export const closeFd = (fd: number): Promise<void> => promised((done) => fs.close(fd, (error) => done(error, undefined)));
export const readAt = (fd: number, buffer: Buffer, offset: number, position: number): Promise<number> =>
  promised((done) => fs.read(fd, buffer, offset, buffer.length - offset, position, done));
