/** A database name with its invisible / bidi characters shown as marked `\uXXXX` escapes. */
import {nameParts} from '../names';

export function Name({name}: {name: string}) {
  return (
    <>
      {nameParts(name).map((p, i) =>
        p.escaped ? (
          <span
            key={i}
            className="rounded bg-amber-200 px-0.5 font-mono text-amber-900"
            data-escaped-char
            title="an invisible character in this name"
          >
            {p.text}
          </span>
        ) : (
          p.text
        ),
      )}
    </>
  );
}
