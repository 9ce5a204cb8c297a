// Unit tests of history_request queries: tail, range, search with unique and n, and output=true.
import { History } from '../../kernel/history';

function filled(): History {
  const h = new History(1);
  ['a = 1', 'b = 2', 'a = 1', 'print(a)', 'a + b'].forEach((code, i) => h.add(i + 1, code));
  h.recordOutput(5, '3');
  return h;
}

test('tail with n', () => {
  expect(filled().query({ hist_access_type: 'tail', n: 2 })).toEqual([[1, 4, 'print(a)'], [1, 5, 'a + b']]);
});

test('range is start inclusive, stop exclusive', () => {
  expect(filled().query({ hist_access_type: 'range', session: 0, start: 2, stop: 4 })).toEqual([[1, 2, 'b = 2'], [1, 3, 'a = 1']]);
});

test('search matches the whole input with glob patterns; unique keeps the latest of each', () => {
  expect(filled().query({ hist_access_type: 'search', pattern: 'a*' }).map((r) => r[1])).toEqual([1, 3, 5]);
  expect(filled().query({ hist_access_type: 'search', pattern: 'a*', unique: true }).map((r) => r[1])).toEqual([3, 5]);
  expect(filled().query({ hist_access_type: 'search', pattern: '*', n: 1 }).map((r) => r[1])).toEqual([5]);
});

test('output=true pairs each input with its result text or null', () => {
  expect(filled().query({ hist_access_type: 'tail', n: 2, output: true })).toEqual([[1, 4, ['print(a)', null]], [1, 5, ['a + b', '3']]]);
});

test('glob matching stays polynomial on hostile patterns (a backtracking regex would not finish)', () => {
  const { globMatch } = jest.requireActual('../../kernel/history') as typeof import('../../kernel/history');
  expect(globMatch('a*c', 'abbbc')).toBe(true);
  expect(globMatch('a?c', 'abc')).toBe(true);
  expect(globMatch('a*', 'b')).toBe(false);
  expect(globMatch('', '')).toBe(true);
  expect(globMatch('*', '')).toBe(true);
  expect(globMatch(`${'*a'.repeat(20)}*b`, 'a'.repeat(40))).toBe(false);
  expect(globMatch(`${'*a'.repeat(200)}*b`, 'a'.repeat(5000))).toBe(false);
});
