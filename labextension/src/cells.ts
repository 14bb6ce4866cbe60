/**
 * Display text for Arrow values, close to how DuckDB prints them.
 *
 * `null` stands for SQL NULL, so the grid can style it apart from the text "NULL".
 */
import {
  DataType,
  DateUnit,
  IntervalUnit,
  TimeUnit,
  type Data,
  type Vector
} from 'apache-arrow';

export type CellText = string | null;

const MAX_BLOB_BYTES = 64;
const MAX_NESTED_CHARS = 500;
const MS_PER_DAY = 86_400_000;
const US_PER_SECOND = 1_000_000;
const US_PER_DAY = 86_400_000_000;

/** Reads row `row` of a column as display text. */
export type ColumnReader = (row: number) => CellText;

/** A reader for one result column, chosen once for its type. */
export function columnReader(vector: Vector): ColumnReader {
  const type = vector.type as DataType;
  if (DataType.isInterval(type) && type.unit === IntervalUnit.MONTH_DAY_NANO) {
    // apache-arrow 17 decodes this unit as YEAR_MONTH: read the buffer itself.
    return row => formatMonthDayNano(readMonthDayNano(vector, row));
  }
  return row => formatValue(vector.get(row), type);
}

/** Display text of a value that `Vector.get` returned for a column of `type`. */
export function formatValue(value: unknown, type: DataType): CellText {
  if (value === null || value === undefined) {
    return null;
  }
  if (DataType.isDecimal(type)) {
    return formatDecimal(String(value), type.scale);
  }
  if (DataType.isDate(type)) {
    return type.unit === DateUnit.DAY
      ? formatDate(Number(value))
      : formatTimestamp(Number(value), null);
  }
  if (DataType.isTimestamp(type)) {
    return formatTimestamp(Number(value), type.timezone ?? null);
  }
  if (DataType.isTime(type)) {
    return formatTimeOfDay(toBigInt(value), type.unit);
  }
  if (DataType.isInterval(type) && ArrayBuffer.isView(value)) {
    return formatTwoPartInterval(value as Int32Array, type.unit);
  }
  if (
    DataType.isBinary(type) ||
    DataType.isLargeBinary(type) ||
    DataType.isFixedSizeBinary(type)
  ) {
    return formatBlob(value as Uint8Array);
  }
  if (
    DataType.isList(type) ||
    DataType.isFixedSizeList(type) ||
    DataType.isStruct(type) ||
    DataType.isMap(type)
  ) {
    return formatNested(value);
  }
  if (typeof value === 'number') {
    return formatNumber(value);
  }
  return String(value);
}

/** `12345` with scale 2 -> `123.45`; the unscaled digits come from Arrow as a string. */
export function formatDecimal(unscaled: string, scale: number): string {
  if (scale <= 0) {
    return unscaled;
  }
  const negative = unscaled.startsWith('-');
  const digits = (negative ? unscaled.slice(1) : unscaled).padStart(
    scale + 1,
    '0'
  );
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

function formatNumber(value: number): string {
  if (Object.is(value, -0)) {
    return '-0.0';
  }
  return String(value);
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `2024-02-29` (dates are days since the epoch, in UTC). */
export function formatDate(epochMs: number): string {
  const date = new Date(Math.floor(epochMs));
  if (Number.isNaN(date.getTime())) {
    return String(epochMs);
  }
  return `${yearText(date.getUTCFullYear())}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

function yearText(year: number): string {
  return year <= 0 ? `${pad(1 - year, 4)} (BC)` : pad(year, 4);
}

/** `hh:mm:ss[.ffffff]` from microseconds since midnight; trailing zeros trimmed like DuckDB. */
function timeText(micros: bigint): string {
  const perSecond = BigInt(US_PER_SECOND);
  const totalSeconds = Number(micros / perSecond);
  const fraction = Number(micros % perSecond);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const clock = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  return fraction === 0
    ? clock
    : `${clock}.${pad(fraction, 6).replace(/0+$/, '')}`;
}

/**
 * `2024-01-01 12:34:56.789`, to the microsecond, with ` UTC` for zoned
 * timestamps: Arrow carries the instant, which is shown in UTC.
 */
export function formatTimestamp(
  epochMs: number,
  timezone: string | null
): string {
  const micros = Math.round(epochMs * 1000);
  if (!Number.isFinite(micros) || Number.isNaN(new Date(epochMs).getTime())) {
    return String(epochMs);
  }
  const day = Math.floor(micros / US_PER_DAY);
  const clock = timeText(BigInt(micros - day * US_PER_DAY));
  const text = `${formatDate(day * MS_PER_DAY)} ${clock}`;
  return timezone ? `${text} UTC` : text;
}

const MICROS_PER_UNIT: Record<TimeUnit, (value: bigint) => bigint> = {
  [TimeUnit.SECOND]: value => value * BigInt(US_PER_SECOND),
  [TimeUnit.MILLISECOND]: value => value * BigInt(1000),
  [TimeUnit.MICROSECOND]: value => value,
  [TimeUnit.NANOSECOND]: value => value / BigInt(1000)
};

/** A TIME value (in its unit since midnight) as `hh:mm:ss[.ffffff]`. */
export function formatTimeOfDay(value: bigint, unit: TimeUnit): string {
  return timeText(MICROS_PER_UNIT[unit](value));
}

function toBigInt(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value)));
}

function plural(count: number | bigint, word: string): string {
  return `${count} ${word}${count === 1 || count === -1 ? '' : 's'}`;
}

/** The parts of an interval, in DuckDB's text form (`1 year 2 months 3 days 04:05:06`). */
export function formatInterval(
  months: number,
  days: number,
  micros: bigint
): string {
  const parts: string[] = [];
  const years = Math.trunc(months / 12);
  const restMonths = months % 12;
  if (years) {
    parts.push(plural(years, 'year'));
  }
  if (restMonths) {
    parts.push(plural(restMonths, 'month'));
  }
  if (days) {
    parts.push(plural(days, 'day'));
  }
  if (micros !== BigInt(0) || parts.length === 0) {
    const negative = micros < BigInt(0);
    const clock = timeText(negative ? -micros : micros);
    parts.push(negative ? `-${clock}` : clock);
  }
  return parts.join(' ');
}

function formatTwoPartInterval(value: Int32Array, unit: IntervalUnit): string {
  if (unit === IntervalUnit.DAY_TIME) {
    return formatInterval(0, value[0], BigInt(value[1]) * BigInt(1000));
  }
  return formatInterval(value[0] * 12 + value[1], 0, BigInt(0));
}

/** Months, days and nanoseconds of a MONTH_DAY_NANO interval, or null for NULL. */
export interface IMonthDayNano {
  months: number;
  days: number;
  nanos: bigint;
}

/** Reads a MONTH_DAY_NANO value (16 bytes: int32 months, int32 days, int64 nanos). */
export function readMonthDayNano(
  vector: Vector,
  row: number
): IMonthDayNano | null {
  let index = row;
  for (const chunk of vector.data as Data[]) {
    if (index < chunk.length) {
      if (!chunk.getValid(index)) {
        return null;
      }
      const ints = chunk.values as unknown as Int32Array;
      const at = (chunk.offset + index) * 4;
      const low = BigInt(ints[at + 2] >>> 0);
      const high = BigInt(ints[at + 3]);
      return {
        months: ints[at],
        days: ints[at + 1],
        nanos: BigInt.asIntN(64, (high << BigInt(32)) | low)
      };
    }
    index -= chunk.length;
  }
  return null;
}

export function formatMonthDayNano(value: IMonthDayNano | null): CellText {
  return value === null
    ? null
    : formatInterval(value.months, value.days, value.nanos / BigInt(1000));
}

/** BLOBs as DuckDB prints them: printable ASCII as is, other bytes as `\xNN`. */
export function formatBlob(bytes: Uint8Array): string {
  const shown = bytes.subarray(0, MAX_BLOB_BYTES);
  let text = '';
  for (const byte of shown) {
    text +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return bytes.length > MAX_BLOB_BYTES
    ? `${text}… (${bytes.length} bytes)`
    : text;
}

/** Lists, structs and maps as JSON; big integers keep every digit. */
export function formatNested(value: unknown): string {
  const plain =
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
      ? (value as { toJSON(): unknown }).toJSON()
      : value;
  const text = JSON.stringify(plain, (_key, item: unknown) => {
    if (typeof item === 'bigint') {
      return item.toString();
    }
    if (item instanceof Uint8Array) {
      return formatBlob(item);
    }
    if (item && typeof (item as { toJSON?: unknown }).toJSON === 'function') {
      return (item as { toJSON(): unknown }).toJSON();
    }
    return item;
  });
  return text.length > MAX_NESTED_CHARS
    ? `${text.slice(0, MAX_NESTED_CHARS)}…`
    : text;
}
