"""CATER-GEN v1/v2 (docs/DATASETS.md, CATER-GEN): a pure seeded planner and a Blender (bpy + Cycles) renderer.

Modules, in data-flow order: ``scene`` (attributes, sizes), ``grid`` (cells, quadrants), ``actions``
(trajectories, the one per-frame evaluation), ``plan`` (ScenePlan, collision and view checks), ``captions``
(YAML templates, match sets), ``camera`` (pinhole model), ``geometry`` (meshes and exact ray hits),
``raycast`` (masks, motion field), ``blender_scene`` / ``render`` (bpy only here), ``annotations`` (the stored
record; its docstring documents every key), ``job`` (the runner's write_shard), ``cli`` (``ti2v-datagen cater``).
"""
