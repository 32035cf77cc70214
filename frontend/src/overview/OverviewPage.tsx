// Being built: replaced by its screen in this change.
export default function OverviewPage() {
  return <h1>OverviewPage</h1>;
}
