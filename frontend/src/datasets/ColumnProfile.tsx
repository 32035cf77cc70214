// The profile computed at upload: one row per column, identifier (PHI) warnings, and the
// columns the server thinks could be targets.
import type { Dataset } from "./api";
import { formatCount, formatNumber, formatPercent, formatValue } from "./format";

type Column = Dataset["columns"][number];

export function ColumnProfile({ dataset }: { dataset: Dataset }) {
  if (dataset.columns.length === 0) return <p>No column profile for this dataset.</p>;
  return (
    <>
      <SuggestedTargets targets={dataset.suggested_targets} />
      <div className="table-scroll">
        <table aria-label="Column profile" className="profile-table">
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Type</th>
              <th scope="col" className="num">
                Missing
              </th>
              <th scope="col" className="num">
                Unique
              </th>
              <th scope="col" className="num">
                Min
              </th>
              <th scope="col" className="num">
                Max
              </th>
              <th scope="col" className="num">
                Mean
              </th>
              <th scope="col">Top values</th>
            </tr>
          </thead>
          <tbody>
            {dataset.columns.map((column) => (
              <ProfileRow key={column.name} column={column} />
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function ProfileRow({ column }: { column: Column }) {
  return (
    <tr>
      <th scope="row">
        <span className="column-name">{column.name}</span>
        {column.likely_identifier && <IdentifierBadge reason={column.identifier_reason} />}
      </th>
      <td>
        {column.kind} <span className="dtype">({column.dtype})</span>
      </td>
      <td className="num">
        {formatCount(column.missing)} <span className="dtype">({formatPercent(column.missing_fraction)})</span>
      </td>
      <td className="num">{formatCount(column.unique)}</td>
      <td className="num">{formatValue(column.min)}</td>
      <td className="num">{formatValue(column.max)}</td>
      <td className="num">{column.mean === null ? "—" : formatNumber(column.mean)}</td>
      <td>
        {column.top.length === 0
          ? "—"
          : column.top
              .slice(0, 3)
              .map((top) => `${formatValue(top.value)} ×${formatCount(top.count)}`)
              .join(", ")}
      </td>
    </tr>
  );
}

/** The warning is read out with its reason; sighted users see the reason on hover too. */
function IdentifierBadge({ reason }: { reason: string | null }) {
  return (
    <span className="badge identifier-badge" title={reason ?? undefined}>
      Likely identifier
      {reason && <span className="visually-hidden">: {reason}</span>}
    </span>
  );
}

function SuggestedTargets({ targets }: { targets: Dataset["suggested_targets"] }) {
  if (!targets?.length) return null;
  return (
    <div className="suggested-targets">
      <h3>Suggested targets</h3>
      <ul>
        {targets.map((target) => (
          <li key={target.column}>
            <strong>{target.column}</strong> — {target.task}
            {target.classes !== null && `, ${target.classes} classes`}: {target.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}
