// Being built: replaced by its screen in this change.
export default function DatasetPage() {
  return <h1>DatasetPage</h1>;
}
