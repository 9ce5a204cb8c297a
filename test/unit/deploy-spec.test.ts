// %deploy's spec checks, before anything is created: -p forms and port ranges, a host port given twice, --keep.
import { UsageError } from '../../kernel/io/errors';
import { keepOption, parsePorts, portsLabel } from '../../magics/docker/deploy/spec';

describe('-p [IP:]HOST:CONTAINER[/tcp]', () => {
  test('the forms it takes', () => {
    expect(parsePorts(['8080:80', '127.0.0.1:9000:9000/tcp', '[::1]:9443:443'])).toEqual([
      { host: 8080, container: 80, proto: 'tcp' },
      { hostIp: '127.0.0.1', host: 9000, container: 9000, proto: 'tcp' },
      { hostIp: '::1', host: 9443, container: 443, proto: 'tcp' },
    ]);
    expect(portsLabel(parsePorts(['127.0.0.1:8080:80', '[::1]:9443:443']))).toBe('127.0.0.1:8080:80/tcp,[::1]:9443:443/tcp');
    // one host port on two addresses, to the same container port: one listener in the proxy serves both
    expect(parsePorts(['127.0.0.1:8080:80', '10.0.0.2:8080:80'])).toHaveLength(2);
  });

  test('usage errors: ports out of range, bad forms, udp, a host port twice', () => {
    const bad = (...values: string[]) => () => parsePorts(values);
    expect(bad('0:80')).toThrow(new UsageError('-p 0:80: the host port 0 is not in 1–65535'));
    expect(bad('70000:80')).toThrow('-p 70000:80: the host port 70000 is not in 1–65535');
    expect(bad('8080:0')).toThrow('the container port 0 is not in 1–65535');
    for (const form of ['8080', 'abc:80', '1:2:3:4', '8080:80/sctp', 'localhost:8080:80', '-1:80']) expect(bad(form)).toThrow(UsageError);
    expect(bad('8080:80/udp')).toThrow('-p 8080:80/udp: the proxy in front of the service carries TCP only');
    expect(bad('8080:80', '8080:80')).toThrow('-p: host port 8080 is given twice (8080:80/tcp and 8080:80/tcp)');
    expect(bad('8080:80', '127.0.0.1:8080:81')).toThrow('-p: host port 8080 is given twice');
    expect(bad('127.0.0.1:8080:80', '127.0.0.1:8080:80')).toThrow('is given twice');
    expect(bad('127.0.0.1:8080:80', '10.0.0.2:8080:81')).toThrow('-p: host port 8080 cannot go to both 80 and 81');
  });
});

test('--keep: a whole number of versions, 0 or more', () => {
  expect(keepOption('0')).toBe(0);
  expect(keepOption('3')).toBe(3);
  for (const bad of ['-1', '1.5', '', 'two']) expect(() => keepOption(bad)).toThrow(/is not a whole number of versions/);
});
