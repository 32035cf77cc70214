// Being built: replaced by its screen in this change.
export default function NewRunPage() {
  return <h1>NewRunPage</h1>;
}
