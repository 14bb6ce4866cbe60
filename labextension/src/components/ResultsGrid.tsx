import React from 'react';
import type { IResultGrid } from '../resultGrid';

/** The rows of a result, with column names and types. */
export function ResultsGrid(props: { result: IResultGrid }): JSX.Element {
  const { columns, rows } = props.result;
  if (columns.length === 0) {
    return (
      <div className="jp-SqlRooms-muted">The statement returned no rows.</div>
    );
  }
  return (
    <div className="jp-SqlRooms-gridScroller">
      <table className="jp-SqlRooms-grid">
        <thead>
          <tr>
            <th className="jp-SqlRooms-rowNumber">#</th>
            {columns.map((column, i) => (
              <th
                key={i}
                className={column.numeric ? 'jp-mod-numeric' : undefined}
              >
                <div className="jp-SqlRooms-columnName">{column.name}</div>
                <div className="jp-SqlRooms-type">{column.type}</div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, r) => (
            <tr key={r}>
              <td className="jp-SqlRooms-rowNumber">{r + 1}</td>
              {row.map((cell, c) =>
                cell === null ? (
                  <td key={c} className="jp-SqlRooms-null">
                    NULL
                  </td>
                ) : (
                  <td
                    key={c}
                    className={
                      columns[c].numeric ? 'jp-mod-numeric' : undefined
                    }
                    title={cell.length > 40 ? cell : undefined}
                  >
                    {cell}
                  </td>
                )
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
