"""The Blender scene (bpy, Cycles): built once per worker process, then re-populated for every video.

Everything is procedural (no downloaded assets): the table plane with thin x/y axes and integer ticks, CLEVR's
four lights, the fixed camera (camera.py numbers), metal/rubber Principled materials, and the unit meshes of
geometry.py scaled by the object's half extent. Per frame the renderer sets each object's location, yaw and
hide_render from the plan; no animation data exists, so Blender never interpolates anything.
"""

from __future__ import annotations

import os

import numpy as np

import bpy  # noqa: E402  (this module is only imported by the render layer)
from mathutils import Matrix

from .camera import Camera, look_at_rotation
from .geometry import unit_mesh
from .scene import COLORS

LIGHTS = (  # name, type, location, energy, size, colour (docs/DATASETS.md, CATER-GEN: Scene; CLEVR)
    ("sun", "SUN", (11.66, -6.63, 25.82), 0.45, None, (1.0, 1.0, 1.0)),
    ("key", "AREA", (6.45, -2.91, 4.26), 78.5, 0.5, (1.0, 0.932, 0.817)),
    ("fill", "AREA", (-4.67, -4.01, 3.01), 23.6, 0.5, (0.762, 0.818, 1.0)),
    ("back", "AREA", (-1.17, 2.65, 5.82), 39.3, 1.0, (1.0, 1.0, 1.0)),
)
TABLE_GRAY = 0.5
AXIS_GRAY = 0.03


def gpu_device() -> str | None:
    """The GPU Cycles would render on in this process ("gpu:KIND:name"), or None (a fresh scene is set up)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with _fd_to_devnull(1, 2):  # Cycles warns once per missing GPU library while it looks
        return BlenderScene._probe_gpu(bpy.context.preferences.addons["cycles"].preferences, bpy.context.scene)


def _aim(obj, location) -> None:
    m = np.eye(4)
    m[:3, :3] = look_at_rotation(np.asarray(location, float), np.zeros(3))
    m[:3, 3] = location
    obj.matrix_world = Matrix(m.tolist())


def _principled(name: str, rgb, metallic: float, roughness: float):
    mat = bpy.data.materials.new(name)
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Roughness"].default_value = roughness
    return mat


def _axes_mesh():
    """Flat dark strips on the table: x and y axes over [-3, 3] with a tick at every integer."""
    quads = []
    w, t, z = 0.02, 0.12, 0.001
    quads.append((-3.0, -w, 3.0, w))
    quads.append((-w, -3.0, w, 3.0))
    for k in range(-3, 4):
        if k == 0:
            continue
        quads.append((k - w, -t, k + w, t))
        quads.append((-t, k - w, t, k + w))
    verts, faces = [], []
    for x0, y0, x1, y1 in quads:
        b = len(verts)
        verts += [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]
        faces.append((b, b + 1, b + 2, b + 3))
    me = bpy.data.meshes.new("axes")
    me.from_pydata(verts, [], faces)
    return me


class BlenderScene:
    """One Cycles scene at a fixed resolution and sampling setting; ``set_objects`` per video."""

    def __init__(self, size: int, samples: int = 32, denoise: bool = True, device: str = "cpu", threads: int | None = None, seed: int = 0):
        with _fd_to_devnull(1, 2):  # Cycles warns once per missing GPU library (CUDA, HIP, ...) while it loads
            self._build(size, samples, denoise, device, threads, seed)

    def _build(self, size, samples, denoise, device, threads, seed) -> None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.size = size
        sc = bpy.context.scene
        self.scene = sc
        r = sc.render
        r.engine = "CYCLES"
        r.resolution_x = r.resolution_y = size
        r.resolution_percentage = 100
        r.use_motion_blur = False
        r.film_transparent = False
        r.use_persistent_data = True
        r.image_settings.file_format = "PNG"
        r.image_settings.color_mode = "RGB"
        r.image_settings.color_depth = "8"
        r.image_settings.compression = 0
        if threads:
            r.threads_mode = "FIXED"
            r.threads = int(threads)
        sc.view_settings.view_transform = "Standard"
        sc.view_settings.look = "None"
        c = sc.cycles
        c.samples = int(samples)
        c.use_adaptive_sampling = False
        c.use_denoising = bool(denoise)
        if denoise:
            c.denoiser = "OPENIMAGEDENOISE"
        c.seed = int(seed)
        c.use_animated_seed = False
        self.device = self._set_device(device)

        world = bpy.data.worlds.new("world")
        sc.world = world
        bg = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None) if world.node_tree else None
        if bg is not None:
            bg.inputs["Strength"].default_value = 0.0
        world.color = (0.0, 0.0, 0.0)

        cam = Camera(size)
        cdata = bpy.data.cameras.new("camera")
        cdata.lens = 35.0
        cdata.sensor_width = 32.0
        cdata.sensor_fit = "HORIZONTAL"
        cobj = bpy.data.objects.new("camera", cdata)
        sc.collection.objects.link(cobj)
        cobj.matrix_world = Matrix(cam.matrix_world().tolist())
        sc.camera = cobj

        for name, kind, loc, energy, lsize, color in LIGHTS:
            ld = bpy.data.lights.new(name, type=kind)
            ld.energy = energy
            ld.color = color
            if lsize is not None:
                ld.size = lsize
            lo = bpy.data.objects.new(name, ld)
            sc.collection.objects.link(lo)
            _aim(lo, loc)

        table = bpy.data.meshes.new("table")
        table.from_pydata([(-40, -40, 0), (40, -40, 0), (40, 40, 0), (-40, 40, 0)], [], [(0, 1, 2, 3)])
        tobj = bpy.data.objects.new("table", table)
        tobj.data.materials.append(_principled("table", (TABLE_GRAY,) * 3, 0.0, 0.9))
        sc.collection.objects.link(tobj)
        aobj = bpy.data.objects.new("axes", _axes_mesh())
        aobj.data.materials.append(_principled("axes", (AXIS_GRAY,) * 3, 0.0, 0.9))
        sc.collection.objects.link(aobj)

        self._meshes: dict[str, object] = {}
        self._materials: dict[tuple[str, str], object] = {}
        self.objects: list = []

    @staticmethod
    def _set_device(device: str) -> str:
        sc = bpy.context.scene
        if device == "cpu":
            sc.cycles.device = "CPU"
            return "cpu"
        prefs = bpy.context.preferences.addons["cycles"].preferences
        found = BlenderScene._probe_gpu(prefs, sc)
        if found:
            return found
        from ..errors import InputError

        raise InputError("--device gpu: Cycles found no OPTIX/CUDA/HIP/oneAPI/Metal device here; use --device cpu")

    @staticmethod
    def _probe_gpu(prefs, sc) -> str | None:
        for kind in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
            try:
                prefs.compute_device_type = kind
            except TypeError:
                continue
            prefs.get_devices()
            gpus = [d for d in prefs.devices if d.type == kind]
            if gpus:
                for d in prefs.devices:
                    d.use = d.type == kind
                sc.cycles.device = "GPU"
                return f"gpu:{kind}:{gpus[0].name}"
        return None

    def _mesh(self, shape: str):
        if shape not in self._meshes:
            v, faces, smooth = unit_mesh(shape)
            me = bpy.data.meshes.new(shape)
            me.from_pydata(v.tolist(), [], [list(f) for f in faces])
            for poly, s in zip(me.polygons, smooth):
                poly.use_smooth = s
            me.materials.append(None)  # one slot, filled per object
            me.update()
            self._meshes[shape] = me
        return self._meshes[shape]

    def _material(self, color: str, material: str):
        key = (color, material)
        if key not in self._materials:
            rgb = tuple(v / 255.0 for v in COLORS[color])  # CLEVR passes 0-255 / 255 straight to the shader
            metal = material == "metal"
            self._materials[key] = _principled(f"{color}-{material}", rgb, 1.0 if metal else 0.0, 0.25 if metal else 0.9)
        return self._materials[key]

    def set_objects(self, objects) -> None:
        """Replace the scene's objects by ``objects`` (ObjectSpec list); meshes and materials are reused."""
        for ob in self.objects:
            bpy.data.objects.remove(ob, do_unlink=True)
        self.objects = []
        for k, o in enumerate(objects):
            ob = bpy.data.objects.new(f"obj{k}", self._mesh(o.shape))
            self.scene.collection.objects.link(ob)
            ob.scale = (o.half, o.half, o.half)
            slot = ob.material_slots[0]
            slot.link = "OBJECT"  # the mesh is shared; the material belongs to the object
            slot.material = self._material(o.color, o.material)
            self.objects.append(ob)

    def set_frame(self, positions: np.ndarray, yaws: np.ndarray, visible: np.ndarray) -> None:
        """Pose every object for one frame: positions [N, 3] (base centre), yaws [N], visible [N]."""
        for ob, p, w, v in zip(self.objects, positions, yaws, visible):
            ob.location = (float(p[0]), float(p[1]), float(p[2]))
            ob.rotation_euler = (0.0, 0.0, float(w))
            ob.hide_render = not bool(v)

    def render(self) -> None:
        """Path-trace the current frame (Cycles + denoiser) into the Render Result."""
        with _fd_to_devnull(1):
            bpy.ops.render.render(write_still=False)

    def save(self, path: str) -> None:
        """Write the Render Result (view transform applied) as an 8-bit PNG."""
        with _fd_to_devnull(1):
            bpy.data.images["Render Result"].save_render(path, scene=self.scene)


def blender_version() -> str:
    return bpy.app.version_string


class _fd_to_devnull:
    """Blender prints a status line per render and Cycles a warning per missing GPU library (CUDA, HIP) on the
    C-level stdout/stderr; drop them so progress bars and one-line errors stay readable. C stdio buffers are
    flushed on both sides of the switch so nothing leaks out later. Python exceptions are unaffected."""

    def __init__(self, *fds: int):
        self.fds = fds

    @staticmethod
    def _flush() -> None:
        import ctypes
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        try:
            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):
            pass

    def __enter__(self):
        self._flush()
        self.saved = [os.dup(fd) for fd in self.fds]
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in self.fds:
            os.dup2(null, fd)
        os.close(null)

    def __exit__(self, *exc):
        self._flush()
        for fd, saved in zip(self.fds, self.saved):
            os.dup2(saved, fd)
            os.close(saved)
