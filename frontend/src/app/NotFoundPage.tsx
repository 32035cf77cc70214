import { Link } from "react-router";
import { useTitle } from "@/components/useTitle";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. <Link to="/">Go to the overview</Link>.
      </p>
    </section>
  );
}
