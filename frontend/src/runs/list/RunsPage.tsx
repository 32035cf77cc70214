// Being built: replaced by its screen in this change.
export default function RunsPage() {
  return <h1>RunsPage</h1>;
}
