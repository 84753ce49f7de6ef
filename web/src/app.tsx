export function App() {
  return (
    <main>
      <h1>fwtrack</h1>
    </main>
  );
}
