import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useLogHead } from "./data.js";
import { CostPage, InstancesPage, JobPage, JobsPage, SessionsPage } from "./pages.js";

const useHash = (): string => {
  const [hash, setHash] = useState(location.hash || "#/jobs");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/jobs");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
};

function App() {
  const hash = useHash();
  const head = useLogHead();
  const job = /^#\/jobs\/([\w.-]+)$/.exec(hash)?.[1];
  const tab = job ? "jobs" : (hash.slice(2).split("?")[0] ?? "jobs");
  const link = (t: string, label: string) => (
    <a href={`#/${t}`} class={tab === t ? "on" : ""}>
      {label}
    </a>
  );
  return (
    <>
      <header>
        <b>spotrun</b>
        <nav>
          {link("jobs", "Jobs")}
          {link("instances", "Instances")}
          {link("sessions", "Sessions")}
          {link("cost", "Cost")}
        </nav>
        <span class="live" data-testid="live">
          {head.live ? `live · event ${head.seq}` : "connecting…"}
        </span>
      </header>
      <main>
        {job ? (
          <JobPage id={job} version={head.seq} />
        ) : tab === "instances" ? (
          <InstancesPage version={head.seq} />
        ) : tab === "sessions" ? (
          <SessionsPage version={head.seq} />
        ) : tab === "cost" ? (
          <CostPage version={head.seq} />
        ) : (
          <JobsPage version={head.seq} array={new URLSearchParams(hash.split("?")[1] ?? "").get("array") ?? ""} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
