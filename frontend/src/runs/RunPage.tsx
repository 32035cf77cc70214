// Being built: replaced by its screen in this change.
export default function RunPage() {
  return <h1>RunPage</h1>;
}
