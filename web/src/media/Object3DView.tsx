// An Object3D drawn with three.js: point clouds (coloured points, boxes, vectors) and GLB/glTF/
// OBJ/STL models, with orbit and zoom (OrbitControls). three.js and its loaders are imported
// on first use, so pages without 3D do not load them.

import { useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../api/client";
import { fetchFile } from "../api/files";
import { ErrorState } from "../components/states";
import { BOX_EDGES, loaderFor, parsePointCloud } from "./points";

interface Props {
  entity: string;
  project: string;
  runId: string;
  path: string;
  format: string;
  label: string;
}

type Three = typeof import("three");

async function buildObject(THREE: Three, format: string, bytes: ArrayBuffer): Promise<import("three").Object3D> {
  const kind = loaderFor(format);
  if (kind === "points") {
    const cloud = parsePointCloud(JSON.parse(new TextDecoder().decode(bytes)));
    const group = new THREE.Group();
    const geom = new THREE.BufferGeometry();
    geom.setAttribute("position", new THREE.BufferAttribute(cloud.positions, 3));
    geom.setAttribute("color", new THREE.BufferAttribute(cloud.colors, 3));
    const size = cloud.radius / 60;
    group.add(new THREE.Points(geom, new THREE.PointsMaterial({ size, vertexColors: true, sizeAttenuation: true })));
    for (const box of cloud.boxes) {
      const pts: number[] = [];
      for (const [a, b] of BOX_EDGES) pts.push(...(box.corners[a] as number[]), ...(box.corners[b] as number[]));
      const g = new THREE.BufferGeometry();
      g.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
      group.add(new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: new THREE.Color(...box.color) })));
    }
    for (const v of cloud.vectors) {
      const g = new THREE.BufferGeometry();
      g.setAttribute("position", new THREE.Float32BufferAttribute([...v.start, ...v.end], 3));
      group.add(new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: new THREE.Color(...v.color) })));
    }
    return group;
  }
  if (kind === "gltf") {
    const { GLTFLoader } = await import("three/examples/jsm/loaders/GLTFLoader.js");
    const gltf = await new GLTFLoader().parseAsync(bytes, "");
    return gltf.scene;
  }
  const material = new THREE.MeshStandardMaterial({ color: 0x9ab4d6, metalness: 0.1, roughness: 0.7, side: THREE.DoubleSide });
  if (kind === "obj") {
    const { OBJLoader } = await import("three/examples/jsm/loaders/OBJLoader.js");
    const obj = new OBJLoader().parse(new TextDecoder().decode(bytes));
    obj.traverse((child) => {
      if (child instanceof THREE.Mesh) child.material = material;
    });
    return obj;
  }
  if (kind === "stl") {
    const { STLLoader } = await import("three/examples/jsm/loaders/STLLoader.js");
    const geom = new STLLoader().parse(bytes);
    geom.computeVertexNormals();
    return new THREE.Mesh(geom, material);
  }
  throw new Error(`${format} files are stored but not shown here (glb, gltf, obj, stl and point clouds are)`);
}

export function Object3DView({ entity, project, runId, path, format, label }: Props) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"loading" | "ready" | "error">("loading");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const ctrl = new AbortController();
    let dispose = (): void => undefined;
    setState("loading");
    setError(null);
    (async () => {
      const [THREE, { OrbitControls }, blob] = await Promise.all([
        import("three"),
        import("three/examples/jsm/controls/OrbitControls.js"),
        fetchFile(entity, project, runId, path, ctrl.signal),
      ]);
      const object = await buildObject(THREE, format, await blob.arrayBuffer());
      if (ctrl.signal.aborted) return;
      const width = Math.max(1, host.clientWidth);
      const height = Math.max(1, Math.round(width * 0.75));
      // preserveDrawingBuffer: the canvas can be read back (screenshots, tests)
      const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
      renderer.setPixelRatio(window.devicePixelRatio);
      renderer.setSize(width, height);
      renderer.setClearColor(0x10141c);
      renderer.domElement.setAttribute("data-testid", "object3d-canvas");
      renderer.domElement.setAttribute("aria-label", label);
      renderer.domElement.setAttribute("role", "img");
      host.replaceChildren(renderer.domElement);
      const scene = new THREE.Scene();
      scene.add(new THREE.AmbientLight(0xffffff, 0.7));
      const sun = new THREE.DirectionalLight(0xffffff, 1.6);
      sun.position.set(1, 2, 3);
      scene.add(sun);
      scene.add(object);
      const bounds = new THREE.Box3().setFromObject(object);
      const sphere = bounds.isEmpty() ? new THREE.Sphere(new THREE.Vector3(), 1) : bounds.getBoundingSphere(new THREE.Sphere());
      const radius = Math.max(sphere.radius, 1e-6);
      const camera = new THREE.PerspectiveCamera(50, width / height, radius / 100, radius * 100);
      camera.position.copy(sphere.center).add(new THREE.Vector3(radius * 1.6, radius * 1.2, radius * 2.0));
      camera.lookAt(sphere.center);
      const controls = new OrbitControls(camera, renderer.domElement);
      controls.target.copy(sphere.center);
      controls.update();
      const render = (): void => {
        renderer.render(scene, camera);
      };
      controls.addEventListener("change", render);
      render();
      dispose = () => {
        controls.removeEventListener("change", render);
        controls.dispose();
        scene.traverse((child) => {
          const mesh = child as { geometry?: { dispose: () => void }; material?: { dispose: () => void } | { dispose: () => void }[] };
          mesh.geometry?.dispose();
          const mats = mesh.material === undefined ? [] : Array.isArray(mesh.material) ? mesh.material : [mesh.material];
          for (const m of mats) m.dispose();
        });
        renderer.dispose();
        renderer.domElement.remove();
      };
      setState("ready");
    })().catch((err: unknown) => {
      if (ctrl.signal.aborted || isAbort(err)) return;
      setError(err);
      setState("error");
    });
    return () => {
      ctrl.abort();
      dispose();
    };
  }, [entity, project, runId, path, format, label]);
  return (
    <div class="object3d" data-testid="object3d" data-state={state} data-format={format} data-path={path}>
      <div class="object3d-canvas" ref={hostRef} />
      {state === "error" && <ErrorState error={error} title="Cannot show the 3D object" />}
      {state === "ready" && <p class="muted object3d-hint">Drag to orbit, scroll to zoom, right-drag to pan.</p>}
    </div>
  );
}
