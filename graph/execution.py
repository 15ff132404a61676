"""A GraphQL execution context that completes plain fields without graphql-core's per-field machinery.

A front page resolves about 3,400 fields, most of them read straight off an attribute (`headline`, `role`,
`entity { name kind }`). For each one graphql-core builds a resolve-info tuple and a path, calls Strawberry's
resolver wrapper, checks for awaitables and walks `complete_value` through its type wrappers; that
bookkeeping, not our code, was most of a request's CPU. This subclass takes a short road for *plain*
fields: Strawberry fields with no resolver, extensions, permissions or arguments, which only read an
attribute. Two places use it:

- `execute_fields` completes an object's plain fields itself when everything selected below them is plain
  too (`headline`, `section { name }`, `breadcrumbs { name path }`), and hands graphql-core only the rest;
- `complete_value` completes a resolver's result in one compiled pass when everything selected below it is
  plain (a list of mentions with `role count entity { name kind }`; body blocks, an interface, whose type
  is the class of each block).

A resolver may join the short road by declaring itself pure (`metadata=PURE`): synchronous, without
`info`, the same answer for the same object and arguments, and safe to call twice. Its arguments are
converted once per operation and it is called directly (`mentions(first: 10)` on fifty articles).

What the short road compiles for a selection is kept for later operations on the same parsed document
(`_SharedCompilations`), keyed by the selection's AST nodes and the values of the variables used inside it,
so an article page compiles its selection once, not on every request.

Values are coerced with each type's own `coerce_output_value` and objects checked with their own
`is_type_of`, as graphql-core does. The short road never reports anything itself: whenever it meets
something unusual (an exception, a null in a non-null field, a value a scalar refuses, an object of the
wrong type, a list that is not a list), it hands the whole value back to graphql-core, which redoes it and
answers exactly as it always does. Reading attributes and coercing values have no side effects, and pure
resolvers promise the same, so doing them twice is safe. With middleware installed (an extension that
wraps resolvers), everything takes the long road.
"""

from __future__ import annotations

import inspect
import operator
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple, TypeVar, cast

from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    Node,
    Undefined,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

T = TypeVar("T")
Completer = Callable[[Any], Any]
Reader = Callable[[Any], Any]
_TYPENAME = "__typename"
_PURE_KEY = "broadsheet.pure"
#: `strawberry.field(metadata=PURE)`: the resolver is synchronous, takes no info, and may be called twice.
PURE = {_PURE_KEY: True}

BUILT_SCHEMA = "a graphql-core schema built by Strawberry"
ATTRIBUTE_RESOLVER = "the resolver Strawberry makes for an attribute"
BUILT_ENUM = "an enum type built by Strawberry"
#: What graph/ relies on that Strawberry does not promise, as (module or class, name): the short road,
#: ``graph.context.selects`` and ``graph.schema.BroadsheetSchema`` (which picks the operation). Strawberry
#: has no public hook for completing a field without its resolver, nor for refusing an unnamed operation
#: among several, so these are pinned by a minor-version range of strawberry-graphql (pyproject.toml) and
#: checked by ``tests/test_execution.py``, which fails naming the one an upgrade moved.
PRIVATE_NAMES = (
    ("strawberry.schema.schema", "StrawberryGraphQLCoreExecutionContext"),  # the class extended here
    ("strawberry.schema.schema_converter", "GraphQLCoreConverter.DEFINITION_BACKREF"),  # core -> Strawberry
    ("strawberry.schema.schema_converter", "GraphQLCoreConverter._get_field_exception_handlers"),
    ("strawberry.schema.schema_converter", "CustomGraphQLEnumType"),
    (BUILT_ENUM, "wrapped_cls"),  # the Python enum behind a CustomGraphQLEnumType
    ("strawberry.types.arguments", "convert_arguments"),  # a pure resolver's arguments, as Strawberry does
    ("strawberry.types.info", "Info._raw_info"),  # graph.context.selects reads the selection from it
    ("strawberry.schema.schema", "Schema._create_execution_context"),  # BroadsheetSchema overrides it
    (BUILT_SCHEMA, "_strawberry_schema"),  # on the graphql-core schema Strawberry builds
    (ATTRIBUTE_RESOLVER, "_is_default"),  # on the resolver Strawberry makes for a field that reads one
)


class _LongRoad(Exception):
    """Raised inside a compiled completion: graphql-core must do this value."""


class _Split(NamedTuple):
    """A selection set's fields: those completed here (name, reader, completer), the rest for graphql-core."""

    grouped: GroupedFieldSet  # kept alive while its id keys the cache
    plain: list[tuple[str, Reader, Completer]]
    others: GroupedFieldSet


def _runs_only_its_resolver(strawberry_field: StrawberryField, converter: GraphQLCoreConverter) -> bool:
    """Whether Strawberry would run nothing around the field's resolver (or attribute read): no field
    extensions (permission classes are one), no permission classes, no schema directives, no exception
    handler that could turn an error into a value. Anything else takes the long road, so it runs."""
    return (
        not strawberry_field.extensions
        and not strawberry_field.permission_classes
        and not strawberry_field.directives
        and not converter._get_field_exception_handlers(strawberry_field)
    )


def _attribute(field_def: GraphQLField, converter: GraphQLCoreConverter) -> str | None:
    """The attribute a plain field reads, or None when the field runs code (a resolver, an extension)."""
    strawberry_field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    plain = (
        isinstance(strawberry_field, StrawberryField)
        and strawberry_field.base_resolver is None
        and _runs_only_its_resolver(strawberry_field, converter)
        # Strawberry marks the resolver it made for a field that only reads an attribute.
        and getattr(field_def.resolve, "_is_default", False)
        and strawberry_field.default_resolver is getattr
        and not field_def.args
    )
    return strawberry_field.python_name if plain else None  # type: ignore[union-attr]


def _leaf_completer(field_type: GraphQLOutputType) -> Completer | None:
    """Completes a scalar or enum (nullable or not) like graphql-core, or None for other types."""
    non_null = is_non_null_type(field_type)
    named = field_type.of_type if non_null else field_type  # type: ignore[union-attr]
    if not is_leaf_type(named):
        return None
    coerce = _enum_names(named) if isinstance(named, CustomGraphQLEnumType) else named.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _LongRoad
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _LongRoad
        return coerced

    return complete


def _enum_names(enum_type: CustomGraphQLEnumType) -> Completer:
    """Strawberry's enum coercion finds a member's name by scanning every value; a dict does it at once.

    Keyed by the members' ids: members live as long as their class, and hashing an Enum runs Python code."""
    members: list[Any] = list(enum_type.wrapped_cls)
    names = {
        id(member): name
        for member in members
        for name, value in enum_type.values.items()
        if value.value == member.value
    }
    scan = enum_type.coerce_output_value

    def coerce(member: Any) -> Any:
        name = names.get(id(member))
        return scan(member) if name is None else name

    return coerce


#: Compiled completions and splits a schema's operations share (see ``_SharedCompilations``).
_SHARED: weakref.WeakKeyDictionary[GraphQLSchema, _SharedCompilations] = weakref.WeakKeyDictionary()


class _SharedCompilations:
    """What the short road compiled, kept for later operations on the same parsed document.

    With a parser cache, every request for one query text executes the same document, so its AST nodes
    name a selection from one request to the next, and compiling a selection again for an article page is
    wasted (docs/benchmarks.md). What a selection compiles to depends on its nodes, the types, and the values
    of the variables used inside it (``@skip``/``@include``, pure resolvers' arguments); those values are
    part of the key, and variables used elsewhere (``article(slug: $slug)`` above the selection) are not,
    so every article page shares one compilation. Entries keep their nodes, so the ids in a key stay
    theirs while it is cached; the least recently used go first.
    """

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
        self._variables: dict[tuple[bool, tuple[int, ...]], tuple[Any, frozenset[str]]] = {}

    def compiled(self, key: Hashable, keep: Any, compile_: Callable[[], T]) -> T:
        """What is kept under ``key``, compiled and kept (with ``keep``) first if missing (None too)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = (keep, compile_())
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        value: T = entry[1]
        return value

    def variables(
        self, nodes: tuple[Node, ...], fragments: dict[str, FragmentDefinitionNode], *, inside_only: bool
    ) -> frozenset[str]:
        """The variables used in ``nodes`` (only inside their selection sets, or in the whole nodes)."""
        key = (inside_only, tuple(map(id, nodes)))
        found = self._variables.get(key)
        if found is None:
            names: set[str] = set()
            roots = [node.selection_set for node in nodes] if inside_only else list(nodes)  # type: ignore[attr-defined]
            _collect_variables(roots, fragments, names, set())
            if len(self._variables) >= self.max_entries:
                self._variables.clear()  # cheap to find again, and it keeps nodes alive
            found = self._variables[key] = (nodes, frozenset(names))
        return found[1]


def _collect_variables(
    nodes: Iterable[Any], fragments: dict[str, FragmentDefinitionNode], names: set[str], seen: set[str]
) -> None:
    for node in nodes:
        if isinstance(node, VariableNode):
            names.add(node.name.value)
            continue
        if not isinstance(node, Node):
            continue
        if isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                _collect_variables([fragment], fragments, names, seen)
        for attribute in node.keys:
            value = getattr(node, attribute, None)
            _collect_variables(value if isinstance(value, tuple | list) else [value], fragments, names, seen)


def _hashable(value: Any) -> Hashable:
    """A variable's value as part of a key; raises TypeError for a value no key can hold."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((name, _hashable(item)) for name, item in value.items()))
    hash(value)
    return cast("Hashable", value)


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short road for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Middleware wraps every resolver, plain ones too; with any, every field takes the long road.
        self._short_road = manager is None or not manager.middlewares
        # Selection sets and field groups are memoized by graphql-core for the whole operation, so fifty
        # articles share one split and one compiled completion; the keys' objects are kept in the values.
        self._splits: dict[int, _Split] = {}
        self._completers: dict[tuple[int, int], tuple[Any, Any, Completer | None]] = {}
        self._shared = _SHARED.setdefault(self.schema, _SharedCompilations())

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._short_road:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        split = self._splits.get(id(grouped_field_set)) or self._split(parent_type, grouped_field_set)
        if not split.plain:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = dict.fromkeys(grouped_field_set)  # the response keeps the query's order
        others = split.others
        for response_name, read, complete in split.plain:
            try:
                results[response_name] = complete(read(source_value))
            except Exception:  # graphql-core redoes this field and reports what went wrong
                if others is split.others:
                    others = dict(others)
                others[response_name] = grouped_field_set[response_name]
        if not others:
            return results
        rest = super().execute_fields(parent_type, source_value, path, others, position_context)
        if isinstance(rest, dict):
            return _merge(results, others, rest)

        async def merged() -> dict[str, Any]:
            return _merge(results, others, await rest)

        return merged()

    def _split(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Split:
        plain, other_names = self._reused(
            "split",
            parent_type,
            grouped_field_set.items(),
            lambda: self._split_fields(parent_type, grouped_field_set),
            inside_only=False,
        )
        others = {response_name: grouped_field_set[response_name] for response_name in other_names}
        split = _Split(grouped_field_set, plain, others)
        self._splits[id(grouped_field_set)] = split
        return split

    def _split_fields(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[list[tuple[str, Reader, Completer]], list[str]]:
        """The plain fields (name, reader, completer), and the names of the others."""
        plain: list[tuple[str, Reader, Completer]] = []
        other_names: list[str] = []
        for response_name, field_details_list in grouped_field_set.items():
            field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            read = None if field_def is None else self._reader(field_def, field_details_list)
            complete = None
            if read is not None:
                assert field_def is not None
                complete = self._completer(field_def.type, field_details_list)
            if read is None or complete is None:
                other_names.append(response_name)
            else:
                plain.append((response_name, read, complete))
        return plain, other_names

    def _reused(
        self,
        kind: str,
        graphql_type: Any,
        groups: Iterable[tuple[str, FieldDetailsList]],
        compile_: Callable[[], T],
        *,
        inside_only: bool,
    ) -> T:
        """What an earlier operation compiled for this selection, else compiled (and kept where it can be)."""
        shared = self._shared_key(kind, graphql_type, groups, inside_only=inside_only)
        return compile_() if shared is None else self._shared.compiled(*shared, compile_)

    def _shared_key(
        self,
        kind: str,
        graphql_type: Any,
        groups: Iterable[tuple[str, FieldDetailsList]],
        *,
        inside_only: bool,
    ) -> tuple[Hashable, tuple[Any, ...]] | None:
        """The key of a selection in the shared compilations, and the nodes to keep with it; None when it
        has none (deferred fields, fragment arguments, a variable value no key can hold)."""
        nodes = []
        shape = []
        for response_name, field_details_list in groups:
            for details in field_details_list:
                if details.defer_usage is not None or details.fragment_variable_values is not None:
                    return None
                nodes.append(details.node)
            shape.append((response_name, len(field_details_list)))
        kept = tuple(nodes)
        coerced = self.variable_values.coerced
        used = self._shared.variables(kept, self.fragment_definitions, inside_only=inside_only)
        try:
            values = tuple((name, name in coerced, _hashable(coerced.get(name))) for name in sorted(used))
        except TypeError:
            return None
        key = (kind, id(graphql_type), id(self.operation), tuple(map(id, kept)), tuple(shape), values)
        return key, kept

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._short_road and not isinstance(result, Exception):
            complete = self._completer(return_type, field_details_list)
            if complete is not None:
                try:
                    return complete(result)
                except Exception:
                    pass
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _reader(self, field_def: GraphQLField, field_details_list: FieldDetailsList) -> Reader | None:
        """How the short road gets the field's value from its object: an attribute read, a pure resolver's
        call with its arguments converted once, or None when graphql-core must resolve it."""
        node = field_details_list[0].node
        strawberry_schema = self.schema._strawberry_schema  # type: ignore[attr-defined]
        converter = strawberry_schema.schema_converter
        attribute = None if node.arguments else _attribute(field_def, converter)
        if attribute is not None:
            return operator.attrgetter(attribute)
        strawberry_field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(strawberry_field, StrawberryField) or not strawberry_field.metadata.get(_PURE_KEY):
            return None
        resolver = strawberry_field.base_resolver
        callable_directly = (
            resolver is not None
            and inspect.isfunction(resolver.wrapped_func)  # a method: not a static or class method
            and not resolver.is_async
            and _runs_only_its_resolver(strawberry_field, converter)
            and resolver.self_parameter is not None
            and resolver.info_parameter is None
            and resolver.root_parameter is None
            and resolver.parent_parameter is None
        )
        if not callable_directly:
            return None
        assert resolver is not None
        try:
            arguments = convert_arguments(
                get_argument_values(
                    field_def, node, self.variable_values, field_details_list[0].fragment_variable_values
                ),
                strawberry_field.arguments,
                scalar_registry=strawberry_schema.schema_converter.scalar_registry,
                config=strawberry_schema.config,
            )
        except Exception:  # a bad argument: graphql-core reports it
            return None
        function = cast("Callable[..., Any]", resolver.wrapped_func)

        def call(source: Any) -> Any:
            return function(source, **arguments)

        return call

    def _completer(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        key = (id(return_type), id(field_details_list))
        found = self._completers.get(key)
        if found is None:
            compiled = self._reused(
                "complete",
                return_type,
                [("", field_details_list)],
                lambda: self._compile(return_type, field_details_list),
                inside_only=True,
            )
            found = (return_type, field_details_list, compiled)
            self._completers[key] = found
        return found[2]

    def _compile(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        """One function that completes a value of ``return_type`` for this selection, or None unless every
        field selected below it is plain."""
        leaf = _leaf_completer(return_type)
        if leaf is not None:
            return leaf
        if isinstance(return_type, GraphQLNonNull):
            inner = self._compile(return_type.of_type, field_details_list)
            return None if inner is None else _non_null(inner)
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            item = self._compile(return_type.of_type, field_details_list)
            return None if item is None else _list_of(item)
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            return self._compile_object(return_type, field_details_list)
        if is_abstract_type(return_type):
            assert isinstance(return_type, GraphQLInterfaceType | GraphQLUnionType)
            return self._compile_abstract(return_type, field_details_list)
        return None

    def _compile_abstract(
        self, abstract_type: GraphQLInterfaceType | GraphQLUnionType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        """An interface or union: the object type is the one whose class the value is, exactly; any other
        value (a subclass, a cast, a dict) goes to graphql-core, which asks Strawberry's type resolver."""
        by_class: dict[type, Completer] = {}
        for object_type in self.schema.get_possible_types(abstract_type):
            definition = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            origin = getattr(definition, "origin", None)
            complete_object = self._completer(object_type, field_details_list)
            if not isinstance(origin, type) or complete_object is None:
                return None
            by_class[origin] = complete_object

        def complete(value: Any) -> Any:
            if value is None:
                return None
            complete_object = by_class.get(type(value))
            if complete_object is None:
                raise _LongRoad
            return complete_object(value)

        return complete

    def _compile_object(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        fields: list[tuple[str, Reader, Completer]] = []
        constants: dict[str, Any] = {}
        for response_name, sub_fields in grouped.items():
            name = sub_fields[0].node.name.value
            if name == _TYPENAME:
                constants[response_name] = object_type.name
                continue
            field_def = self.schema.get_field(object_type, name)
            read = None if field_def is None else self._reader(field_def, sub_fields)
            if read is None:
                return None
            assert field_def is not None
            complete = self._completer(field_def.type, sub_fields)
            if complete is None:
                return None
            fields.append((response_name, read, complete))
        return _object_of(object_type, list(grouped), fields, constants)


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            raise _LongRoad
        return inner(value)

    return complete


def _list_of(item: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):  # other iterables and awaitables: graphql-core knows them
            raise _LongRoad
        return [item(element) for element in value]

    return complete


def _object_of(
    object_type: GraphQLObjectType,
    order: list[str],
    fields: list[tuple[str, Reader, Completer]],
    constants: dict[str, Any],
) -> Completer:
    is_type_of = object_type.is_type_of
    definition = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    known_class = getattr(definition, "origin", None)

    def complete(value: Any) -> Any:
        if value is None:
            return None
        # Strawberry's is_type_of ignores its info argument; the exact class needs no call at all.
        if type(value) is not known_class and is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]
            raise _LongRoad
        result = {name: complete_field(read(value)) for name, read, complete_field in fields}
        if constants:
            result.update(constants)
            result = {name: result[name] for name in order}
        return result

    return complete


def _merge(results: dict[str, Any], others: GroupedFieldSet, rest: dict[str, Any]) -> dict[str, Any]:
    results.update(rest)  # updating a key keeps its place
    for response_name in others.keys() - rest.keys():  # fields graphql-core left out (unknown to the schema)
        del results[response_name]
    return results
