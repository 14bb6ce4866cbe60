/** What a tab last ran; kept in memory only (results are re-run, not saved). */
import {isPageable} from './statements';

export type Run = {sql: string; pageable: boolean; version: number};

export function makeRun(sql: string, version = Date.now()): Run {
  return {sql, pageable: isPageable(sql), version};
}
