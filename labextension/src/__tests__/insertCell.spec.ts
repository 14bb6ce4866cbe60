import { describe, expect, it } from 'vitest';
import {
  freshResultName,
  kernelNames,
  namesInRepr,
  namesInSources,
  renameResult
} from '../insertCell';

const CELL =
  'import duckdb\n\nresult_1 = duckdb.sql("""select 1""").df()\nresult_1';

describe('the inserted cell name', () => {
  it('picks the first result_N nothing uses', () => {
    expect(freshResultName([])).toBe('result_1');
    expect(freshResultName(['result_1', 'result_2', 'result_4'])).toBe(
      'result_3'
    );
  });

  it('renames the assignment and the displayed name only', () => {
    expect(renameResult(CELL, 'result_7')).toBe(
      'import duckdb\n\nresult_7 = duckdb.sql("""select 1""").df()\nresult_7'
    );
    const quoted =
      'import duckdb\n\nresult_1 = duckdb.sql("""select \'result_1\'""").df()\nresult_1';
    expect(renameResult(quoted, 'result_2')).toContain("select 'result_1'");
    expect(renameResult('df = 1', 'result_2')).toBe('df = 1');
  });

  it('reads names from the kernel and from cells', () => {
    expect(namesInRepr("['result_1', 'result_10']")).toEqual([
      'result_1',
      'result_10'
    ]);
    expect(namesInSources(['x = 1\nresult_3 = f()', 'result_4=2'])).toEqual([
      'result_3',
      'result_4'
    ]);
  });

  it('asks the kernel silently and copes with no answer', async () => {
    const asked: unknown[] = [];
    const kernel = {
      requestExecute: (content: unknown) => {
        asked.push(content);
        return {
          done: Promise.resolve({
            content: {
              user_expressions: {
                names: {
                  status: 'ok',
                  data: { 'text/plain': "['result_1']" }
                }
              }
            }
          })
        };
      }
    };
    expect(await kernelNames(kernel)).toEqual(['result_1']);
    expect(asked[0]).toMatchObject({ code: '', silent: true });
    const silent = {
      requestExecute: () => ({
        done: new Promise<{ content: unknown }>(() => undefined)
      })
    };
    expect(await kernelNames(silent, 10)).toEqual([]);
    expect(await kernelNames(null)).toEqual([]);
  });
});
