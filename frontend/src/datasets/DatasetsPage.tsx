// Being built: replaced by its screen in this change.
export default function DatasetsPage() {
  return <h1>DatasetsPage</h1>;
}
